import { LightningElement, wire } from 'lwc';
import { refreshApex } from '@salesforce/apex';
import { ShowToastEvent } from 'lightning/platformShowToastEvent';
import getToday from '@salesforce/apex/StepwiseTodayController.getToday';
import respond from '@salesforce/apex/StepwiseRecommendationsController.respond';
import { DISMISS_REASONS } from 'c/stepwiseRecommendations';

const SNOOZE_DAYS = 7;

// The record a card is about, by its Record_Type__c; a card without its own record falls back to the first
// lookup it has (an account-level card on a deal's account still opens the account).
const RECORDS = {
    deal: { field: 'Opportunity__c', relation: 'Opportunity__r', object: 'Opportunity', label: 'Opportunity' },
    account: { field: 'Account__c', relation: 'Account__r', object: 'Account', label: 'Account' },
    lead: { field: 'Lead__c', relation: 'Lead__r', object: 'Lead', label: 'Lead' }
};

function recordOf(row) {
    const preferred = RECORDS[row.Record_Type__c];
    const kind = preferred && row[preferred.field] ? preferred : Object.values(RECORDS).find((r) => row[r.field]);
    if (!kind) {
        return null;
    }
    const id = row[kind.field];
    const related = row[kind.relation];
    return {
        id,
        // The rep may not see the record's name (sharing): the link still opens it, or says why not.
        name: (related && related.Name) || kind.label,
        kind: kind.label,
        url: `/lightning/r/${kind.object}/${id}/view`
    };
}

function isoDay(date) {
    return date.toISOString().slice(0, 10);
}

/** One Stepwise_Recommendation__c row of the rep's Today → what the template shows. */
export function toItem(row) {
    const urgency = row.Urgency__c || 'LOW';
    const record = recordOf(row);
    return {
        id: row.Id,
        rank: row.Today_Rank__c,
        title: row.Title__c || row.Name,
        urgency,
        urgencyReason: row.Urgency_Reason__c || '',
        hasUrgencyReason: Boolean(row.Urgency_Reason__c),
        bestBefore: row.Best_Before__c,
        record,
        hasRecord: Boolean(record),
        urgencyClass: `slds-badge urgency-${urgency.toLowerCase()}`
    };
}

export default class StepwiseToday extends LightningElement {
    items = [];
    error;
    loaded = false;
    busy = false;
    dismissingId;
    dismissReason;
    wired;

    reasons = DISMISS_REASONS;

    @wire(getToday)
    wiredToday(result) {
        this.wired = result;
        if (result.data) {
            this.items = result.data.map(toItem);
            this.error = undefined;
            this.loaded = true;
        } else if (result.error) {
            this.items = [];
            this.error = errorText(result.error);
            this.loaded = true;
        }
    }

    get viewItems() {
        return this.items.map((item) => ({ ...item, dismissing: item.id === this.dismissingId }));
    }

    get title() {
        return this.items.length ? `My next best actions (${this.items.length})` : 'My next best actions';
    }

    get isEmpty() {
        return this.loaded && !this.error && this.items.length === 0;
    }

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
            // Off the list at once; the places of the others stay as Stepwise ranked them until the next sync.
            this.items = this.items.filter((item) => item.id !== recommendationId);
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

function errorText(error) {
    if (error && error.body && error.body.message) {
        return error.body.message;
    }
    return (error && error.message) || 'Something went wrong.';
}
