from stepwise.cli import main

main()
