import React from 'react';
import { describe, expect, it, vi } from 'vitest';
import { Alert, Button, EmptyState, LoadingSpinner, Select, Text, Tile } from '@hubspot/ui-extensions';
import { createRenderer } from '@hubspot/ui-extensions/testing';
import { RecommendationsCard } from '../RecommendationsCard.jsx';
import { createApi } from '../api.js';

const BASE = 'https://stepwise.example.com';

function rec(n, extra = {}) {
  return {
    id: `rec_${n}`, title: `Send the ROI calculator to Dana ${n}`, score: 87.4 - n, urgency: n === 1 ? 'HIGH' : 'MEDIUM',
    expected_impact: 'Stage advance', why: ['Dana mentioned budget concerns in the last call.'],
    how: ['Open the ROI calculator.', 'Send it by email.'], offer: { products: ['P-100'], max_discount_pct: 10 },
    constraints: ['Max discount 10%'], best_before: '2026-11-24', success_rate: n === 1 ? 0.35 : null,
    alternatives: [{ action_id: 'deep_dive', title: 'Schedule technical deep-dive', score: 72, urgency: 'MEDIUM' }],
    ...extra,
  };
}

// A fake hubspot.fetch: answers by URL and records what was sent.
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

function setup(routes) {
  const { fetcher, calls } = fakeFetch(routes);
  const renderer = createRenderer('crm.record.tab');
  const addAlert = vi.fn();
  renderer.render(
    <RecommendationsCard
      api={createApi(fetcher, BASE)}
      source="hubspot-4242"
      recordType="deal"
      recordId="1001"
      user="rep@example.com"
      addAlert={addAlert}
      now={() => new Date('2026-11-23T09:00:00Z')}
    />,
  );
  return { ...renderer, calls, addAlert };
}

const texts = (findAll) => findAll(Text).map((node) => node.text);
const LIST = '/api/v1/records/hubspot-4242/deal/1001/recommendations';

describe('the Stepwise app card', () => {
  it('shows a spinner, then the top 3 recommendations like seed 001', async () => {
    const { find, findAll, maybeFind, waitFor, calls } = setup({ [LIST]: [200, { recommendations: [1, 2, 3, 4].map((n) => rec(n)) }] });
    expect(maybeFind(LoadingSpinner)).not.toBeNull();
    await waitFor(() => expect(findAll(Tile)).toHaveLength(3));
    expect(calls[0].url).toBe(`${BASE}${LIST}`);
    expect(calls[0].options.timeout).toBeLessThanOrEqual(15000);
    const all = texts(findAll);
    expect(all).toContain('Score: 86/100 | Urgency: HIGH | Impact: Stage advance');
    expect(all).toContain('• Dana mentioned budget concerns in the last call.');
    expect(all).toContain('• Products: P-100');
    expect(all).toContain('• Max discount: 10%');
    expect(all).toContain('⏰ Best before: 2026-11-24 | 📊 Success rate: 35%');
    expect(all).toContain('⏰ Best before: 2026-11-24 | 📊 Success rate: no history yet');
    expect(all.some((t) => t && t.includes('Alternatives'))).toBe(false);
    expect(find(Button, { testId: 'show-more' }).text).toBe('Show more');
  });

  it('reveals the 4th recommendation and the alternatives behind "Show more"', async () => {
    const { find, findAll, waitFor } = setup({ [LIST]: [200, { recommendations: [1, 2, 3, 4].map((n) => rec(n)) }] });
    await waitFor(() => expect(findAll(Tile)).toHaveLength(3));
    find(Button, { testId: 'show-more' }).trigger('onClick');
    await waitFor(() => expect(findAll(Tile)).toHaveLength(4));
    expect(texts(findAll)).toContain('• Score 72: Schedule technical deep-dive (medium urgency)');
    expect(find(Button, { testId: 'show-more' }).text).toBe('Show less');
  });

  it('shows an error with the reason and retries', async () => {
    const routes = { [LIST]: [503, { error: 'the store is not reachable' }] };
    const { find, findAll, waitFor, calls } = setup(routes);
    await waitFor(() => expect(find(Alert).props.title).toBe('Stepwise is not reachable right now'));
    expect(find(Alert).text).toContain('the store is not reachable');
    routes[LIST] = [200, { recommendations: [rec(1)] }];
    find(Button, { testId: 'retry' }).trigger('onClick');
    await waitFor(() => expect(findAll(Tile)).toHaveLength(1));
    expect(calls).toHaveLength(2);
  });

  it('says so when there is nothing to do', async () => {
    const { find, waitFor } = setup({ [LIST]: [200, { recommendations: [] }] });
    await waitFor(() => expect(find(EmptyState).props.title).toBe('Nothing to do here today'));
  });

  it('Accept posts the feedback once, with an idempotency key, and marks the card', async () => {
    const { find, findAll, waitFor, calls, addAlert } = setup({
      [LIST]: [200, { recommendations: [rec(1)] }],
      '/feedback': [201, { id: 1, action: 'accepted', replayed: false }],
    });
    await waitFor(() => expect(findAll(Tile)).toHaveLength(1));
    find(Button, { testId: 'accept-rec_1' }).trigger('onClick');
    await waitFor(() => expect(find(Text, { testId: 'answered-rec_1' }).text).toBe('✓ Accepted'));
    const post = calls[1];
    expect(post.url).toBe(`${BASE}/api/v1/recommendations/rec_1/feedback`);
    expect(post.options.method).toBe('POST');
    expect(post.options.body).toEqual({ action: 'accepted', user: 'rep@example.com' });
    expect(post.options.headers['Idempotency-Key']).toBe('rec_1:accepted');
    expect(addAlert).toHaveBeenCalledWith(expect.objectContaining({ type: 'success' }));
  });

  it('Dismiss sends the reason picked in the select', async () => {
    const { find, findAll, waitFor, calls } = setup({
      [LIST]: [200, { recommendations: [rec(1)] }],
      '/feedback': [201, { id: 2, action: 'dismissed', replayed: false }],
    });
    await waitFor(() => expect(findAll(Tile)).toHaveLength(1));
    find(Select).trigger('onChange', 'already_contacted');
    await waitFor(() => expect(find(Select).props.value).toBe('already_contacted'));
    find(Button, { testId: 'dismiss-rec_1' }).trigger('onClick');
    await waitFor(() => expect(find(Text, { testId: 'answered-rec_1' }).text).toBe('✓ Dismissed'));
    expect(calls[1].options.body).toEqual({ action: 'dismissed', user: 'rep@example.com', reason: 'already_contacted' });
  });

  it('Snooze sends a date 3 days out; a failed save keeps the buttons and says why', async () => {
    const routes = { [LIST]: [200, { recommendations: [rec(1)] }], '/feedback': [400, { error: 'snooze_until is in the past' }] };
    const { find, findAll, maybeFind, waitFor, calls, addAlert } = setup(routes);
    await waitFor(() => expect(findAll(Tile)).toHaveLength(1));
    find(Button, { testId: 'snooze-rec_1' }).trigger('onClick');
    await waitFor(() => expect(addAlert).toHaveBeenCalledWith(expect.objectContaining({ type: 'danger' })));
    expect(calls[1].options.body).toEqual({ action: 'snoozed', user: 'rep@example.com', snooze_until: '2026-11-26' });
    expect(addAlert.mock.calls[0][0].message).toContain('snooze_until is in the past');
    expect(maybeFind(Text, { testId: 'answered-rec_1' })).toBeNull();
  });
});
