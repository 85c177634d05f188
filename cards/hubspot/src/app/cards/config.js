// Where the Stepwise card service runs.  It must also be listed in app-hsmeta.json
// under permittedUrls.fetch, or HubSpot refuses the request.
export const STEPWISE_BASE_URL = 'https://stepwise.example.com';

// The card service lets a portal read only its own source (it checks the signed portalId).
export const sourceFor = (portalId) => `hubspot-${portalId}`;

// HubSpot gives hubspot.fetch 15 s by default; we answer well inside it and give up sooner.
export const FETCH_TIMEOUT_MS = 10000;

export const SNOOZE_DAYS = 3;

// Whose "Today" the sidebar card shows. The extension context has the viewing user's HubSpot *user* id, not
// their *owner* id (the hubspot_owner_id on deals and companies, what Stepwise ranks by), so the card asks for
// "me": hubspot.fetch signs every request with the user's userId, and the card service maps it to the owner.
export const OWNER_ME = 'me';

// HubSpot's object type ids, for opening a card's record in the preview panel (whatever the portal's host).
export const OBJECT_TYPE_IDS = { contacts: '0-1', companies: '0-2', deals: '0-3' };

export const DISMISS_REASONS = [
  { label: 'Wrong timing', value: 'wrong_timing' },
  { label: 'Unsuitable product', value: 'unsuitable_product' },
  { label: 'Already contacted', value: 'already_contacted' },
  { label: 'Not relevant', value: 'not_relevant' },
  { label: 'Other', value: 'other' },
];

export function labelOf(action) {
  return { accepted: 'Accepted', dismissed: 'Dismissed', snoozed: `Snoozed for ${SNOOZE_DAYS} days` }[action] || action;
}
