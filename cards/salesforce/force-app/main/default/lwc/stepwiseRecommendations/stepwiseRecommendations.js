import { LightningElement, api, wire } from 'lwc';
import { refreshApex } from '@salesforce/apex';
import { ShowToastEvent } from 'lightning/platformShowToastEvent';
import getRecommendations from '@salesforce/apex/StepwiseRecommendationsController.getRecommendations';
import respond from '@salesforce/apex/StepwiseRecommendationsController.respond';

export const DISMISS_REASONS = [
    { label: 'Wrong timing', value: 'wrong_timing' },
    { label: 'Unsuitable product', value: 'unsuitable_product' },
    { label: 'Already contacted', value: 'already_contacted' },
    { label: 'Not relevant', value: 'not_relevant' },
    { label: 'Other', value: 'other' }
];
const SNOOZE_DAYS = 7;

function lines(text) {
    return (text || '')
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line.length > 0)
        .map((line, index) => ({ key: String(index), text: line }));
}

function details(json) {
    // Details__c is written by Stepwise; a card with a broken one still shows its main fields.
    try {
        return json ? JSON.parse(json) : {};
    } catch (e) {
        return {};
    }
}

function isoDay(date) {
    return date.toISOString().slice(0, 10);
}

/** One Stepwise_Recommendation__c row → what the template shows. */
export function toCard(row) {
    const extra = details(row.Details__c);
    const alternatives = (extra.alternatives || []).map((alt, index) => ({
        key: alt.action_id || String(index),
        title: alt.title,
        score: Math.round(alt.score || 0),
        urgency: alt.urgency
    }));
    const rate = row.Success_Rate__c;
    return {
        id: row.Id,
        title: row.Title__c || row.Name,
        score: Math.round(row.Score__c || 0),
        urgency: row.Urgency__c,
        impact: row.Expected_Impact__c,
        why: lines(row.Why__c),
        how: lines(row.How__c),
        offer: lines(row.Offer__c),
        constraints: lines(row.Constraints__c),
        bestBefore: row.Best_Before__c,
        // Stepwise rewrites a card only when its advice changes, so this is when the advice was written,
        // possibly days ago: the rep reads the why ("no touch for 9 days") as of that day.
        updated: row.As_Of__c,
        successRate: rate === null || rate === undefined ? 'no history yet' : `${Math.round(rate)}%`,
        alternatives,
        hasOffer: Boolean(row.Offer__c),
        hasConstraints: Boolean(row.Constraints__c),
        hasAlternatives: alternatives.length > 0,
        urgencyClass: `slds-badge urgency-${(row.Urgency__c || 'low').toLowerCase()}`
    };
}

/**
 * What every Stepwise list of cards does with a rep's answer: accept, dismiss with a reason, snooze a week,
 * through the controller's `respond`, with a toast; the subclass says how an answered card leaves its list
 * (`removeAnswered`) and keeps its wire result in `wired` so the list refreshes.
 */
export class AnswerableElement extends LightningElement {
    busy = false;
    dismissingId;
    dismissReason;
    wired;
    reasons = DISMISS_REASONS;

    get confirmDisabled() {
        return this.busy || !this.dismissReason;
    }

    handleAccept(event) {
        this.send(event.target.dataset.id, 'accept', null, null, 'Accepted');
    }

    handleDismissStart(event) {
        this.dismissingId = event.target.dataset.id;
        this.dismissReason = undefined;
    }

    handleReasonChange(event) {
        this.dismissReason = event.detail.value;
    }

    handleDismissCancel() {
        this.dismissingId = undefined;
    }

    handleDismissConfirm(event) {
        this.send(event.target.dataset.id, 'dismiss', this.dismissReason, null, 'Dismissed');
    }

    handleSnooze(event) {
        const until = new Date();
        until.setDate(until.getDate() + SNOOZE_DAYS);
        this.send(event.target.dataset.id, 'snooze', null, isoDay(until), `Snoozed for ${SNOOZE_DAYS} days`);
    }

    async send(recommendationId, action, reason, snoozeUntil, done) {
        this.busy = true;
        try {
            await respond({ recommendationId, action, reason, snoozeUntil });
            this.removeAnswered(recommendationId);
            this.dismissingId = undefined;
            this.dispatchEvent(new ShowToastEvent({ title: done, message: 'Stepwise will learn from it.', variant: 'success' }));
            await refreshApex(this.wired);
        } catch (error) {
            this.dispatchEvent(new ShowToastEvent({ title: 'Not saved', message: errorText(error), variant: 'error' }));
        } finally {
            this.busy = false;
        }
    }
}

export default class StepwiseRecommendations extends AnswerableElement {
    @api recordId;

    cards = [];
    error;
    expandedIds = new Set();


    @wire(getRecommendations, { recordId: '$recordId' })
    wiredCards(result) {
        this.wired = result;
        if (result.data) {
            this.cards = result.data.map(toCard);
            this.error = undefined;
        } else if (result.error) {
            this.cards = [];
            this.error = errorText(result.error);
        }
    }

    get viewCards() {
        return this.cards.map((card) => ({
            ...card,
            dismissing: card.id === this.dismissingId,
            expanded: this.expandedIds.has(card.id),
            moreLabel: this.expandedIds.has(card.id) ? 'Show less' : `Show more (${card.alternatives.length})`
        }));
    }

    get hasCards() {
        return this.cards.length > 0;
    }

    get isEmpty() {
        return !this.error && this.cards.length === 0;
    }


    handleToggleMore(event) {
        const id = event.target.dataset.id;
        const expanded = new Set(this.expandedIds);
        if (expanded.has(id)) {
            expanded.delete(id);
        } else {
            expanded.add(id);
        }
        this.expandedIds = expanded;
    }

    // Gone from the list at once; the refresh brings the next card up.
    removeAnswered(recommendationId) {
        this.cards = this.cards.filter((card) => card.id !== recommendationId);
    }
}

export function errorText(error) {
    if (error && error.body && error.body.message) {
        return error.body.message;
    }
    return (error && error.message) || 'Something went wrong.';
}
