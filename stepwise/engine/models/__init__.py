"""Learned estimators: small, pure, sklearn-shaped (fit/predict, parameters in __init__, no I/O).

win.WinModel, lead.LeadConversionModel, reorder.ReorderModel, effectiveness.ActionEffectiveness,
feedback.FeedbackPosteriors; baselines in base.py; features from an "as known on day X" view in
features.py.  `EngineModels` bundles what `engine.run.recommend(models=...)` uses.
"""
