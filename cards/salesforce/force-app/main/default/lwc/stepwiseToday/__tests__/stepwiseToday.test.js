import { createElement } from 'lwc';
import StepwiseToday, { toItem } from 'c/stepwiseToday';
import getToday from '@salesforce/apex/StepwiseTodayController.getToday';
import respond from '@salesforce/apex/StepwiseRecommendationsController.respond';

jest.mock(
    '@salesforce/apex/StepwiseTodayController.getToday',
    () => {
        const { createApexTestWireAdapter } = require('@salesforce/sfdx-lwc-jest');
        return { default: createApexTestWireAdapter(jest.fn()) };
    },
    { virtual: true }
);
jest.mock('@salesforce/apex/StepwiseRecommendationsController.respond', () => ({ default: jest.fn() }), {
    virtual: true
});

// Shaped like StepwiseTodayController.getToday's answer: the rep's rows, first place first, with the looked-up
// record's name as Salesforce serialises a relationship field (Opportunity__r: { Name, Id }).
const ROWS = [
    {
        Id: 'a0B000000000001AAA',
        Name: 'Confirm the renewal before the contract ends',
        Stepwise_Id__c: 'card_3f9a1c0b7d2e4f6a8b0c1d2e',
        Title__c: 'Confirm the renewal before the contract ends',
        Urgency__c: 'HIGH',
        Urgency_Reason__c: 'contract ends in 12 days',
        Best_Before__c: '2026-03-04',
        Today_Rank__c: 1,
        Status__c: 'New',
        Record_Type__c: 'deal',
        Opportunity__c: '006000000000001AAA',
        Opportunity__r: { Id: '006000000000001AAA', Name: 'Acme line 3' },
        Account__c: '001000000000001AAA',
        Account__r: { Id: '001000000000001AAA', Name: 'Acme' }
    },
    {
        Id: 'a0B000000000002AAA',
        Name: 'Clarify the overdue invoice',
        Stepwise_Id__c: 'card_0d4e7a9b2c5f8e1a3b6c9d0e',
        Title__c: 'Clarify the overdue invoice',
        Urgency__c: 'MEDIUM',
        Urgency_Reason__c: 'invoice INV-7 overdue 42 days',
        Best_Before__c: '2026-03-06',
        Today_Rank__c: 2,
        Status__c: 'New',
        Record_Type__c: 'account',
        Account__c: '001000000000002AAA',
        Account__r: { Id: '001000000000002AAA', Name: 'Verdi Logistics' }
    },
    {
        Id: 'a0B000000000003AAA',
        Name: 'Call the new lead',
        Stepwise_Id__c: 'card_9e8d7c6b5a4f3e2d1c0b9a8f',
        Title__c: 'Call the new lead',
        Urgency__c: 'LOW',
        Best_Before__c: null,
        Today_Rank__c: 3,
        Status__c: 'Snoozed',
        Record_Type__c: 'lead',
        Lead__c: '00Q000000000001AAA'
    }
];

const ShowToastEventName = 'lightning__showtoast';
const flush = () => new Promise((resolve) => setTimeout(resolve, 0));
const squash = (node) => node.textContent.replace(/\s+/g, ' ').trim();

function mount() {
    const element = createElement('c-stepwise-today', { is: StepwiseToday });
    document.body.appendChild(element);
    return element;
}

function items(element) {
    return [...element.shadowRoot.querySelectorAll('li.item')];
}

function button(item, className) {
    return item.querySelector(`lightning-button.${className}`);
}

describe('c-stepwise-today', () => {
    afterEach(() => {
        while (document.body.firstChild) {
            document.body.removeChild(document.body.firstChild);
        }
        jest.clearAllMocks();
    });

    it('lists the Today items in the controller order with their place, title, record, urgency and why, best before', async () => {
        const element = mount();
        getToday.emit(ROWS);
        await flush();
        const list = items(element);
        expect(list.map((li) => li.dataset.id)).toEqual(ROWS.map((r) => r.Id));
        expect(list.map((li) => li.querySelector('.rank').textContent)).toEqual(['1', '2', '3']);
        const first = list[0];
        expect(first.querySelector('.title').textContent).toBe('Confirm the renewal before the contract ends');
        expect(squash(first.querySelector('.meta'))).toBe(
            'Acme line 3 · HIGH contract ends in 12 days · Best before 2026-03-04'
        );
        expect(first.querySelector('.urgency-high')).not.toBeNull();
        expect(squash(list[1].querySelector('.meta'))).toBe(
            'Verdi Logistics · MEDIUM invoice INV-7 overdue 42 days · Best before 2026-03-06'
        );
        expect(element.shadowRoot.querySelector('lightning-card').title).toBe('My next best actions (3)');
    });

    it('links each item to its record: the opportunity of a deal card, the account of an account card, the lead', async () => {
        const element = mount();
        getToday.emit(ROWS);
        await flush();
        const links = items(element).map((li) => li.querySelector('a.record'));
        expect(links.map((a) => a.getAttribute('href'))).toEqual([
            '/lightning/r/Opportunity/006000000000001AAA/view',
            '/lightning/r/Account/001000000000002AAA/view',
            '/lightning/r/Lead/00Q000000000001AAA/view'
        ]);
        // No name came back for the lead (the rep cannot see it, or no relationship): the kind of record instead.
        expect(links[2].textContent).toBe('Lead');
    });

    it('shows a LOW item without a reason or a best-before day, and an item with no record without a link', () => {
        const low = toItem(ROWS[2]);
        expect(low.hasUrgencyReason).toBe(false);
        expect(low.bestBefore).toBeNull();
        const orphan = toItem({ Id: 'a0B000000000009AAA', Name: 'Files card', Urgency__c: 'HIGH', Today_Rank__c: 4 });
        expect(orphan.hasRecord).toBe(false);
        expect(orphan.title).toBe('Files card');
    });

    it('falls back to the account when a deal card has no opportunity', () => {
        const item = toItem({ ...ROWS[0], Opportunity__c: null, Opportunity__r: null });
        expect(item.record).toEqual({
            id: '001000000000001AAA',
            name: 'Acme',
            kind: 'Account',
            url: '/lightning/r/Account/001000000000001AAA/view'
        });
    });

    it('accept answers through the record controller, takes the item off the list and thanks the rep', async () => {
        respond.mockResolvedValue({ Id: ROWS[0].Id, Status__c: 'Accepted' });
        const element = mount();
        const toasts = jest.fn();
        element.addEventListener(ShowToastEventName, toasts);
        getToday.emit(ROWS);
        await flush();
        button(items(element)[0], 'accept').click();
        await flush();
        expect(respond).toHaveBeenCalledWith({ recommendationId: ROWS[0].Id, action: 'accept', reason: null, snoozeUntil: null });
        expect(items(element).map((li) => li.dataset.id)).toEqual([ROWS[1].Id, ROWS[2].Id]);
        expect(toasts.mock.calls[0][0].detail.variant).toBe('success');
    });

    it('dismiss asks for a reason first and sends it', async () => {
        respond.mockResolvedValue({});
        const element = mount();
        getToday.emit(ROWS);
        await flush();
        const item = items(element)[1];
        button(item, 'dismiss').click();
        await flush();
        const confirm = button(item, 'confirm-dismiss');
        expect(confirm.disabled).toBe(true);
        const picker = item.querySelector('lightning-combobox.reason-picker');
        expect(picker.options.map((o) => o.value)).toEqual([
            'wrong_timing',
            'unsuitable_product',
            'already_contacted',
            'not_relevant',
            'other'
        ]);
        picker.dispatchEvent(new CustomEvent('change', { detail: { value: 'already_contacted' } }));
        await flush();
        expect(confirm.disabled).toBe(false);
        confirm.click();
        await flush();
        expect(respond).toHaveBeenCalledWith({
            recommendationId: ROWS[1].Id,
            action: 'dismiss',
            reason: 'already_contacted',
            snoozeUntil: null
        });
        expect(items(element).length).toBe(2);
    });

    it('snooze sends a day a week ahead', async () => {
        respond.mockResolvedValue({});
        const element = mount();
        getToday.emit(ROWS);
        await flush();
        button(items(element)[2], 'snooze').click();
        await flush();
        const sent = respond.mock.calls[0][0];
        expect(sent.action).toBe('snooze');
        expect(sent.recommendationId).toBe(ROWS[2].Id);
        const days = Math.round((new Date(sent.snoozeUntil) - new Date(new Date().toISOString().slice(0, 10))) / 86400000);
        expect(days).toBe(7);
    });

    it('a failed answer keeps the item and shows why', async () => {
        respond.mockRejectedValue({ body: { message: 'This recommendation is no longer available.' } });
        const element = mount();
        const toasts = jest.fn();
        element.addEventListener(ShowToastEventName, toasts);
        getToday.emit(ROWS);
        await flush();
        button(items(element)[0], 'accept').click();
        await flush();
        expect(items(element).length).toBe(3);
        expect(toasts.mock.calls[0][0].detail).toEqual(
            expect.objectContaining({ variant: 'error', message: 'This recommendation is no longer available.' })
        );
    });

    it('says the list is done when it is empty, nothing before it loads, and shows load errors', async () => {
        const element = mount();
        expect(element.shadowRoot.querySelector('.empty')).toBeNull();
        getToday.emit([]);
        await flush();
        expect(element.shadowRoot.querySelector('.empty')).not.toBeNull();
        expect(element.shadowRoot.querySelector('lightning-card').title).toBe('My next best actions');
        getToday.error({ message: 'Insufficient access' });
        await flush();
        expect(element.shadowRoot.querySelector('.error')).not.toBeNull();
        expect(element.shadowRoot.querySelector('.empty')).toBeNull();
    });
});
