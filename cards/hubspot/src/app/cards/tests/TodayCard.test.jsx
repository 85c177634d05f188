import React from 'react';
import { describe, expect, it, vi } from 'vitest';
import { Alert, Button, EmptyState, LoadingSpinner, Select, Tag, Text, Tile } from '@hubspot/ui-extensions';
import { CrmActionLink } from '@hubspot/ui-extensions/crm';
import { createRenderer } from '@hubspot/ui-extensions/testing';
import { TodayCard, recordOf } from '../TodayCard.jsx';
import { createApi } from '../api.js';
import { OWNER_ME } from '../config.js';

const BASE = 'https://stepwise.example.com';
const TODAY = '/api/v1/reps/me/today';

// Recommendation JSON as the card service returns it in `items`, ordered by today_rank.
function item(n, extra = {}) {
  return {
    id: `rec_${n}`, card_key: `card_${n}`, source: 'hubspot-4242', record_type: 'deal', record_id: `90${n}`,
    deal_id: `90${n}`, account_id: '5001', lead_id: null, title: `Confirm the renewal ${n}`, score: 80 - n,
    urgency: n === 1 ? 'HIGH' : 'MEDIUM', urgency_reason: n === 1 ? 'contract ends in 12 days' : 'close date in 20 days',
    best_before: '2026-11-26', owner_id: '700', today_rank: n, why: ['Contract ends on 2026-12-05.'], how: ['Call them.'],
    offer: {}, constraints: [], success_rate: null, alternatives: [],
    ...extra,
  };
}

function fakeFetch(routes) {
  const calls = [];
  const fetcher = vi.fn(async (url, options) => {
    calls.push({ url, options });
    const route = Object.keys(routes).find((key) => url.includes(key));
    const [status, body] = route ? routes[route] : [404, { error: 'not found' }];
    return { ok: status < 400, status, json: async () => body };
  });
  return { fetcher, calls };
}

function setup(routes, props = {}) {
  const { fetcher, calls } = fakeFetch(routes);
  const renderer = createRenderer('crm.record.sidebar');
  const addAlert = vi.fn();
  renderer.render(
    <TodayCard
      api={createApi(fetcher, BASE)}
      owner={OWNER_ME}
      user="rep@example.com"
      addAlert={addAlert}
      now={() => new Date('2026-11-23T09:00:00Z')}
      {...props}
    />,
  );
  return { ...renderer, calls, addAlert };
}

const body = (items) => ({ owner: '700', as_of: '2026-11-23', items });
const texts = (findAll) => findAll(Text).map((node) => node.text);

describe('the "My next best actions" sidebar card', () => {
  it('asks the card service for the viewing rep\'s Today, then lists it with place, urgency and why, best before', async () => {
    const { find, findAll, maybeFind, waitFor, calls } = setup({ [TODAY]: [200, body([item(1), item(2), item(3)])] });
    expect(maybeFind(LoadingSpinner)).not.toBeNull();
    await waitFor(() => expect(findAll(Tile)).toHaveLength(3));
    expect(calls).toHaveLength(1);
    expect(calls[0].url).toBe(`${BASE}${TODAY}`);
    expect(calls[0].options).toEqual(expect.objectContaining({ method: 'GET' }));
    expect(calls[0].options.timeout).toBeLessThanOrEqual(15000);
    expect(['rec_1', 'rec_2', 'rec_3'].map((id) => find(Text, { testId: `title-${id}` }).text)).toEqual([
      '1. Confirm the renewal 1', '2. Confirm the renewal 2', '3. Confirm the renewal 3',
    ]);
    expect(findAll(Tag).map((t) => [t.text, t.props.variant])).toEqual([['HIGH', 'error'], ['MEDIUM', 'warning'], ['MEDIUM', 'warning']]);
    expect(find(Text, { testId: 'reason-text-rec_1' }).text).toBe('contract ends in 12 days');
    expect(find(Text, { testId: 'best-before-rec_1' }).text).toBe('Best before: 2026-11-26');
    expect(find(Text, { testId: 'today-summary' }).text).toBe('3 of 3 left · as of 2026-11-23');
  });

  it('keeps the places the service gave, even when the items arrive out of order', async () => {
    const { findAll, waitFor } = setup({ [TODAY]: [200, body([item(2), item(1)])] });
    await waitFor(() => expect(findAll(Tile)).toHaveLength(2));
    expect(findAll(Tile).map((t) => t.props.testId)).toEqual(['today-rec_1', 'today-rec_2']);
  });

  it('opens the deal, or the company of an account card, in the preview panel', async () => {
    const account = item(2, { record_type: 'account', record_id: '5002', deal_id: null, account_id: '5002' });
    const { find, findAll, waitFor } = setup({ [TODAY]: [200, body([item(1), account])] });
    await waitFor(() => expect(findAll(Tile)).toHaveLength(2));
    const deal = find(CrmActionLink, { testId: 'record-rec_1' });
    expect(deal.props.actionType).toBe('PREVIEW_OBJECT');
    expect(deal.props.actionContext).toEqual({ objectTypeId: '0-3', objectId: 901 });
    expect(deal.text).toBe('Open the deal');
    expect(find(CrmActionLink, { testId: 'record-rec_2' }).props.actionContext).toEqual({ objectTypeId: '0-2', objectId: 5002 });
    expect(recordOf(item(3, { deal_id: null, account_id: null }))).toBeNull();
  });

  it('on a company record, marks the items about that company', async () => {
    const other = item(2, { account_id: '6000' });
    const { findAll, maybeFind, waitFor } = setup({ [TODAY]: [200, body([item(1), other])] }, { companyId: '5001' });
    await waitFor(() => expect(findAll(Tile)).toHaveLength(2));
    expect(maybeFind(Text, { testId: 'here-rec_1' })).not.toBeNull();
    expect(maybeFind(Text, { testId: 'here-rec_2' })).toBeNull();
  });

  it('leaves the reason out of a LOW item', async () => {
    const low = item(1, { urgency: 'LOW', urgency_reason: '' });
    const { findAll, maybeFind, waitFor } = setup({ [TODAY]: [200, body([low])] });
    await waitFor(() => expect(findAll(Tile)).toHaveLength(1));
    expect(maybeFind(Text, { testId: 'reason-text-rec_1' })).toBeNull();
    expect(findAll(Tag)[0].props.variant).toBe('default');
  });

  it('Accept posts the feedback with an idempotency key, marks the item and counts it done', async () => {
    const { find, findAll, waitFor, calls, addAlert } = setup({
      [TODAY]: [200, body([item(1), item(2)])],
      '/feedback': [201, { id: 1, action: 'accepted', replayed: false }],
    });
    await waitFor(() => expect(findAll(Tile)).toHaveLength(2));
    find(Button, { testId: 'accept-rec_1' }).trigger('onClick');
    await waitFor(() => expect(find(Text, { testId: 'answered-rec_1' }).text).toBe('✓ Accepted'));
    expect(calls[1].url).toBe(`${BASE}/api/v1/recommendations/rec_1/feedback`);
    expect(calls[1].options.method).toBe('POST');
    expect(calls[1].options.body).toEqual({ action: 'accepted', user: 'rep@example.com' });
    expect(calls[1].options.headers['Idempotency-Key']).toBe('rec_1:accepted');
    expect(find(Text, { testId: 'today-summary' }).text).toBe('1 of 2 left · as of 2026-11-23');
    expect(addAlert).toHaveBeenCalledWith(expect.objectContaining({ type: 'success' }));
  });

  it('Dismiss sends the reason picked; Snooze sends a day 3 days out', async () => {
    const { find, findAll, waitFor, calls } = setup({
      [TODAY]: [200, body([item(1), item(2)])],
      '/feedback': [201, { id: 2, replayed: false }],
    });
    await waitFor(() => expect(findAll(Tile)).toHaveLength(2));
    find(Select, { testId: 'reason-rec_1' }).trigger('onChange', 'wrong_timing');
    await waitFor(() => expect(find(Select, { testId: 'reason-rec_1' }).props.value).toBe('wrong_timing'));
    find(Button, { testId: 'dismiss-rec_1' }).trigger('onClick');
    await waitFor(() => expect(find(Text, { testId: 'answered-rec_1' }).text).toBe('✓ Dismissed'));
    expect(calls[1].options.body).toEqual({ action: 'dismissed', user: 'rep@example.com', reason: 'wrong_timing' });
    find(Button, { testId: 'snooze-rec_2' }).trigger('onClick');
    await waitFor(() => expect(find(Text, { testId: 'answered-rec_2' }).text).toBe('✓ Snoozed for 3 days'));
    expect(calls[2].options.body).toEqual({ action: 'snoozed', user: 'rep@example.com', snooze_until: '2026-11-26' });
  });

  it('a failed answer keeps the buttons and says why', async () => {
    const { find, findAll, maybeFind, waitFor, addAlert } = setup({
      [TODAY]: [200, body([item(1)])],
      '/feedback': [409, { error: 'this recommendation is no longer current' }],
    });
    await waitFor(() => expect(findAll(Tile)).toHaveLength(1));
    find(Button, { testId: 'accept-rec_1' }).trigger('onClick');
    await waitFor(() => expect(addAlert).toHaveBeenCalledWith(expect.objectContaining({ type: 'danger' })));
    expect(addAlert.mock.calls[0][0].message).toContain('no longer current');
    expect(maybeFind(Text, { testId: 'answered-rec_1' })).toBeNull();
    expect(find(Button, { testId: 'accept-rec_1' }).props.disabled).toBe(false);
  });

  it('says so when the list is empty', async () => {
    const { find, maybeFind, waitFor } = setup({ [TODAY]: [200, body([])] });
    await waitFor(() => expect(find(EmptyState).props.title).toBe('Nothing in your list today'));
    expect(maybeFind(Text, { testId: 'today-empty-reason' })).toBeNull();
  });

  it('gives the service\'s reason when the viewer is no owner in the portal', async () => {
    const message = 'HubSpot user 12345 is not an active owner in portal 4242, so no cards are ranked for them';
    const { find, findAll, waitFor } = setup({ [TODAY]: [200, { owner: null, as_of: '2026-11-23', items: [], message }] });
    await waitFor(() => expect(find(EmptyState).props.title).toBe('Nothing in your list today'));
    expect(find(Text, { testId: 'today-empty-reason' }).text).toBe(message);
    expect(texts(findAll)).not.toContain(
      'Stepwise picks a short list each day from all your deals and companies; none is due now.');
  });

  it('shows the service\'s error (the owner lookup failed, say) and tries again', async () => {
    const error = 'cannot resolve `me` to a HubSpot owner right now: HubSpot portal 4242 refused the owners lookup (403)';
    const routes = { [TODAY]: [503, { error }] };
    const { find, findAll, waitFor, calls } = setup(routes);
    await waitFor(() => expect(find(Alert).props.title).toBe('Your list is not available right now'));
    expect(find(Alert).text).toContain('refused the owners lookup (403)');
    routes[TODAY] = [200, body([item(1)])];
    find(Button, { testId: 'retry' }).trigger('onClick');
    await waitFor(() => expect(findAll(Tile)).toHaveLength(1));
    expect(calls).toHaveLength(2);
    expect(texts(findAll)).toContain('1. Confirm the renewal 1');
  });
});
