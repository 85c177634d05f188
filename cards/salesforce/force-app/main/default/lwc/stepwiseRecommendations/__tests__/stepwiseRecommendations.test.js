import { createElement } from 'lwc';
import StepwiseRecommendations, { toCard } from 'c/stepwiseRecommendations';
import getRecommendations from '@salesforce/apex/StepwiseRecommendationsController.getRecommendations';
import respond from '@salesforce/apex/StepwiseRecommendationsController.respond';

jest.mock(
    '@salesforce/apex/StepwiseRecommendationsController.getRecommendations',
    () => {
        const { createApexTestWireAdapter } = require('@salesforce/sfdx-lwc-jest');
        return { default: createApexTestWireAdapter(jest.fn()) };
    },
    { virtual: true }
);
jest.mock('@salesforce/apex/StepwiseRecommendationsController.respond', () => ({ default: jest.fn() }), {
    virtual: true
});

// Shaped like the Apex controller's answer: Stepwise_Recommendation__c rows as Salesforce serialises them.
// One record per card, updated in place: Stepwise_Id__c is the card key, As_Of__c the day its advice was last
// written (an unchanged card keeps an older day than a card that changed today).
const ROWS = [
    {
        Id: 'a0B000000000001AAA',
        Stepwise_Id__c: 'card_3f9a1c0b7d2e4f6a8b0c1d2e',
        As_Of__c: '2026-02-25',
        Name: 'Send the ROI calculator to Ada Rossi',
        Title__c: 'Send the ROI calculator to Ada Rossi',
        Score__c: 81.5,
        Urgency__c: 'HIGH',
        Expected_Impact__c: 'faster budget approval',
        Why__c: 'Budget or ROI came up 3 times in the last 30 days.\nNo touch for 9 days.',
        How__c: 'Open the ROI calculator.\nSend it by email.',
        Offer__c: 'Max discount: 10%',
        Constraints__c: 'Do not offer extended payment terms.',
        Details__c: JSON.stringify({
            factors: { relevance: 90, impact: 60, urgency: 70, feasibility: 100 },
            alternatives: [
                { action_id: 'book_demo', title: 'Book a technical demo', score: 64.2, urgency: 'MEDIUM' },
                { action_id: 'call_champion', title: 'Call the champion', score: 58, urgency: 'LOW' }
            ]
        }),
        Best_Before__c: '2026-03-04',
        Success_Rate__c: null,
        Rank__c: 1,
        Status__c: 'New'
    },
    {
        Id: 'a0B000000000002AAA',
        Stepwise_Id__c: 'card_0d4e7a9b2c5f8e1a3b6c9d0e',
        As_Of__c: '2026-02-28',
        Name: 'Clarify the overdue invoice',
        Title__c: 'Clarify the overdue invoice',
        Score__c: 70,
        Urgency__c: 'MEDIUM',
        Expected_Impact__c: 'payment back on track',
        Why__c: 'Invoice INV-7 is 42 days overdue.',
        How__c: 'Call accounts payable.',
        Details__c: 'not json',
        Best_Before__c: '2026-03-03',
        Success_Rate__c: 45,
        Rank__c: 2,
        Status__c: 'New'
    }
];

// The event name ShowToastEvent dispatches (the stub does not export it).
const ShowToastEventName = 'lightning__showtoast';
const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

function mount() {
    const element = createElement('c-stepwise-recommendations', { is: StepwiseRecommendations });
    element.recordId = '006000000000001AAA';
    document.body.appendChild(element);
    return element;
}

function button(card, className) {
    return card.querySelector(`lightning-button.${className}`);
}

describe('c-stepwise-recommendations', () => {
    afterEach(() => {
        while (document.body.firstChild) {
            document.body.removeChild(document.body.firstChild);
        }
        jest.clearAllMocks();
    });

    it('shows each card like seed 001: title, score | urgency | impact, why, how, offer, constraints', async () => {
        const element = mount();
        getRecommendations.emit(ROWS);
        await flush();
        const cards = element.shadowRoot.querySelectorAll('article.card');
        expect(cards.length).toBe(2);
        const first = cards[0];
        expect(first.querySelector('.title').textContent).toBe('Send the ROI calculator to Ada Rossi');
        const metrics = first.querySelector('.metrics').textContent.replace(/\s+/g, ' ');
        expect(metrics).toContain('Score 82');
        expect(metrics).toContain('Urgency HIGH');
        expect(metrics).toContain('Impact faster budget approval');
        expect([...first.querySelectorAll('.why li')].map((li) => li.textContent)).toEqual([
            'Budget or ROI came up 3 times in the last 30 days.',
            'No touch for 9 days.'
        ]);
        expect(first.querySelectorAll('.how li').length).toBe(2);
        expect(first.querySelector('.offer').textContent).toContain('Max discount: 10%');
        expect(first.querySelector('.constraints').textContent).toContain('extended payment terms');
        expect(first.querySelector('.success-rate').textContent).toBe('no history yet');
        expect(cards[1].querySelector('.success-rate').textContent).toBe('45%');
        expect(cards[1].querySelector('.offer')).toBeNull();
    });

    it('shows every card the controller returns, in its order, each with the day its advice was written', async () => {
        const element = mount();
        // The older card first: the controller orders by rank, and the component must not re-sort or drop by day.
        getRecommendations.emit(ROWS);
        await flush();
        const cards = [...element.shadowRoot.querySelectorAll('article.card')];
        expect(cards.map((card) => card.dataset.id)).toEqual([ROWS[0].Id, ROWS[1].Id]);
        expect(cards.map((card) => card.querySelector('.updated').textContent)).toEqual([
            'Updated 2026-02-25',
            'Updated 2026-02-28'
        ]);
        const footer = cards[0].querySelector('.footer').textContent.replace(/\s+/g, ' ').trim();
        expect(footer).toBe('Updated 2026-02-25 · Best before 2026-03-04 · Success rate: no history yet');
    });

    it('leaves the day out when a card has none', async () => {
        const element = mount();
        getRecommendations.emit([{ ...ROWS[1], As_Of__c: null }]);
        await flush();
        const card = element.shadowRoot.querySelector('article.card');
        expect(card.querySelector('.updated')).toBeNull();
        expect(card.querySelector('.footer').textContent.replace(/\s+/g, ' ').trim()).toBe(
            'Best before 2026-03-03 · Success rate: 45%'
        );
    });

    it('keeps the alternatives behind "Show more"', async () => {
        const element = mount();
        getRecommendations.emit(ROWS);
        await flush();
        const first = element.shadowRoot.querySelector('article.card');
        expect(first.querySelector('.alternatives')).toBeNull();
        const toggle = button(first, 'toggle-more');
        expect(toggle.label).toBe('Show more (2)');
        toggle.click();
        await flush();
        const items = [...element.shadowRoot.querySelectorAll('.alternatives li')].map((li) => li.textContent);
        expect(items).toEqual(['Book a technical demo (score 64, MEDIUM)', 'Call the champion (score 58, LOW)']);
        // A card with no alternatives has no toggle.
        const second = element.shadowRoot.querySelectorAll('article.card')[1];
        expect(button(second, 'toggle-more')).toBeNull();
    });

    it('accept sends the response, removes the card and thanks the rep', async () => {
        respond.mockResolvedValue({ Id: ROWS[0].Id, Status__c: 'Accepted' });
        const element = mount();
        const toasts = jest.fn();
        element.addEventListener(ShowToastEventName, toasts);
        getRecommendations.emit(ROWS);
        await flush();
        button(element.shadowRoot.querySelector('article.card'), 'accept').click();
        await flush();
        expect(respond).toHaveBeenCalledWith({
            recommendationId: ROWS[0].Id,
            action: 'accept',
            reason: null,
            snoozeUntil: null
        });
        expect(element.shadowRoot.querySelectorAll('article.card').length).toBe(1);
        expect(toasts.mock.calls[0][0].detail.variant).toBe('success');
    });

    it('dismiss asks for a reason first and sends it', async () => {
        respond.mockResolvedValue({});
        const element = mount();
        getRecommendations.emit(ROWS);
        await flush();
        const card = element.shadowRoot.querySelector('article.card');
        button(card, 'dismiss').click();
        await flush();
        const confirm = button(card, 'confirm-dismiss');
        expect(confirm.disabled).toBe(true);
        const picker = card.querySelector('lightning-combobox.reason');
        expect(picker.options.map((o) => o.value)).toEqual([
            'wrong_timing',
            'unsuitable_product',
            'already_contacted',
            'not_relevant',
            'other'
        ]);
        picker.dispatchEvent(new CustomEvent('change', { detail: { value: 'wrong_timing' } }));
        await flush();
        expect(confirm.disabled).toBe(false);
        confirm.click();
        await flush();
        expect(respond).toHaveBeenCalledWith(
            expect.objectContaining({ recommendationId: ROWS[0].Id, action: 'dismiss', reason: 'wrong_timing' })
        );
    });

    it('snooze sends a day a week ahead', async () => {
        respond.mockResolvedValue({});
        const element = mount();
        getRecommendations.emit(ROWS);
        await flush();
        button(element.shadowRoot.querySelectorAll('article.card')[1], 'snooze').click();
        await flush();
        const sent = respond.mock.calls[0][0];
        expect(sent.action).toBe('snooze');
        const days = Math.round((new Date(sent.snoozeUntil) - new Date(new Date().toISOString().slice(0, 10))) / 86400000);
        expect(days).toBe(7);
    });

    it('a failed save keeps the card and shows the error', async () => {
        respond.mockRejectedValue({ body: { message: 'This recommendation is no longer available.' } });
        const element = mount();
        const toasts = jest.fn();
        element.addEventListener(ShowToastEventName, toasts);
        getRecommendations.emit(ROWS);
        await flush();
        button(element.shadowRoot.querySelector('article.card'), 'accept').click();
        await flush();
        expect(element.shadowRoot.querySelectorAll('article.card').length).toBe(2);
        expect(toasts.mock.calls[0][0].detail.variant).toBe('error');
        expect(toasts.mock.calls[0][0].detail.message).toBe('This recommendation is no longer available.');
    });

    it('says so when there is nothing to do, and shows load errors', async () => {
        const element = mount();
        getRecommendations.emit([]);
        await flush();
        expect(element.shadowRoot.querySelector('.empty')).not.toBeNull();
        getRecommendations.error({ message: 'Insufficient access' });
        await flush();
        expect(element.shadowRoot.querySelector('.error')).not.toBeNull();
    });

    it('toCard tolerates a broken Details__c', () => {
        const card = toCard(ROWS[1]);
        expect(card.alternatives).toEqual([]);
        expect(card.hasAlternatives).toBe(false);
        expect(card.why[0].text).toBe('Invoice INV-7 is 42 days overdue.');
    });
});
