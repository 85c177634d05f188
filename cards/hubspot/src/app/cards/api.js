import { FETCH_TIMEOUT_MS } from './config.js';

// `fetcher` is hubspot.fetch in HubSpot (signed requests to permittedUrls.fetch) and a fake in tests.
export function createApi(fetcher, baseUrl) {
  async function request(path, options) {
    const response = await fetcher(`${baseUrl}${path}`, { timeout: FETCH_TIMEOUT_MS, ...options });
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (!response.ok) {
      throw new Error((body && body.error) || `Stepwise answered ${response.status}`);
    }
    return body;
  }

  return {
    recommendations(source, recordType, recordId) {
      const path = `/api/v1/records/${encodeURIComponent(source)}/${recordType}/${encodeURIComponent(recordId)}/recommendations`;
      return request(path, { method: 'GET' }).then((body) => (body && body.recommendations) || []);
    },
    today(owner) {
      // The rep's "Today", first place first: { owner, as_of, items }, and a `message` when the viewing HubSpot
      // user is no owner in the portal (so nothing can be ranked for them: owner null, no items).
      return request(`/api/v1/reps/${encodeURIComponent(owner)}/today`, { method: 'GET' }).then((body) => ({
        owner: (body && body.owner) || owner,
        asOf: (body && body.as_of) || null,
        items: (body && body.items) || [],
        message: (body && body.message) || null,
      }));
    },
    feedback(recommendationId, payload) {
      // One key per recommendation and answer: a double click or a retry is recorded once.
      return request(`/api/v1/recommendations/${encodeURIComponent(recommendationId)}/feedback`, {
        method: 'POST',
        body: payload,
        headers: { 'Idempotency-Key': `${recommendationId}:${payload.action}` },
      });
    },
  };
}

export function snoozeUntil(now, days) {
  const until = new Date(now.getTime() + days * 24 * 60 * 60 * 1000);
  return until.toISOString().slice(0, 10);
}
