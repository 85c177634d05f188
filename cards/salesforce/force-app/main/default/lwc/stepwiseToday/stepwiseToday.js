import { wire } from 'lwc';
import getToday from '@salesforce/apex/StepwiseTodayController.getToday';
import { AnswerableElement, errorText } from 'c/stepwiseRecommendations';

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

export default class StepwiseToday extends AnswerableElement {
    items = [];
    error;
    loaded = false;

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


    // Off the list at once; the places of the others stay as Stepwise ranked them until the next sync.
    removeAnswered(recommendationId) {
        this.items = this.items.filter((item) => item.id !== recommendationId);
    }
}
