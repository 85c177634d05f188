import React, { useCallback, useEffect, useState } from 'react';
import { Alert, Button, ButtonRow, EmptyState, Flex, LoadingSpinner, Select, Tag, Text, Tile } from '@hubspot/ui-extensions';
import { CrmActionLink } from '@hubspot/ui-extensions/crm';
import { snoozeUntil } from './api.js';
import { DISMISS_REASONS, OBJECT_TYPE_IDS, SNOOZE_DAYS, labelOf } from './config.js';

const URGENCY_TAG = { HIGH: 'error', MEDIUM: 'warning', LOW: 'default' };

// The HubSpot record a card is about: its deal, or its company for an account-level card.
export function recordOf(rec) {
  if (rec.record_type === 'deal' && rec.deal_id) return { objectTypeId: OBJECT_TYPE_IDS.deals, objectId: Number(rec.deal_id), label: 'Open the deal' };
  if (rec.account_id) return { objectTypeId: OBJECT_TYPE_IDS.companies, objectId: Number(rec.account_id), label: 'Open the company' };
  return null;
}

function TodayItem({ rec, companyId, answered, busy, onRespond }) {
  const [reason, setReason] = useState('not_relevant');
  const record = recordOf(rec);
  const here = companyId && rec.account_id && String(rec.account_id) === String(companyId);
  return (
    <Tile compact={true} testId={`today-${rec.id}`}>
      <Flex direction="column" gap="extra-small">
        <Text format={{ fontWeight: 'bold' }} testId={`title-${rec.id}`}>{`${rec.today_rank}. ${rec.title}`}</Text>
        <Flex direction="row" gap="extra-small" align="center" wrap="wrap">
          <Tag variant={URGENCY_TAG[rec.urgency] || 'default'}>{rec.urgency}</Tag>
          {rec.urgency_reason ? <Text variant="microcopy" testId={`reason-text-${rec.id}`}>{rec.urgency_reason}</Text> : null}
        </Flex>
        <Flex direction="row" gap="small" align="center" wrap="wrap">
          {record && (
            <CrmActionLink
              actionType="PREVIEW_OBJECT"
              actionContext={{ objectTypeId: record.objectTypeId, objectId: record.objectId }}
              testId={`record-${rec.id}`}
            >
              {record.label}
            </CrmActionLink>
          )}
          {here ? <Text variant="microcopy" testId={`here-${rec.id}`}>this company</Text> : null}
        </Flex>
        <Text variant="microcopy" testId={`best-before-${rec.id}`}>{`Best before: ${rec.best_before || '—'}`}</Text>
        {answered ? (
          <Text format={{ fontWeight: 'demibold' }} testId={`answered-${rec.id}`}>{`✓ ${labelOf(answered)}`}</Text>
        ) : (
          <Flex direction="column" gap="extra-small">
            <ButtonRow>
              <Button size="extra-small" variant="primary" disabled={busy} onClick={() => onRespond(rec, 'accepted')} testId={`accept-${rec.id}`}>
                Accept
              </Button>
              <Button size="extra-small" variant="secondary" disabled={busy} onClick={() => onRespond(rec, 'snoozed')} testId={`snooze-${rec.id}`}>
                Snooze
              </Button>
              <Button size="extra-small" variant="destructive" disabled={busy} onClick={() => onRespond(rec, 'dismissed', reason)} testId={`dismiss-${rec.id}`}>
                Dismiss
              </Button>
            </ButtonRow>
            <Select
              name={`reason-${rec.id}`}
              label="Reason to dismiss"
              value={reason}
              options={DISMISS_REASONS}
              onChange={(value) => setReason(String(value))}
              testId={`reason-${rec.id}`}
            />
          </Flex>
        )}
      </Flex>
    </Tile>
  );
}

// "My next best actions": the viewing rep's Today (a short ranked list across all their deals and companies),
// in the sidebar of every contact and company record, so the day's plan is one glance away while they work.
export function TodayCard({ api, owner, user, companyId, addAlert, now = () => new Date() }) {
  const [state, setState] = useState({ status: 'loading', items: [], asOf: null, error: null, message: null });
  const [answered, setAnswered] = useState({});
  const [busy, setBusy] = useState(null);

  const load = useCallback(async () => {
    setState({ status: 'loading', items: [], asOf: null, error: null, message: null });
    try {
      const today = await api.today(owner);
      // The service orders by today_rank already; sorting again keeps a stale cache from reshuffling the list.
      const items = [...today.items].sort((a, b) => (a.today_rank || 0) - (b.today_rank || 0));
      setState({ status: 'ready', items, asOf: today.asOf, error: null, message: today.message });
    } catch (error) {
      setState({ status: 'error', items: [], asOf: null, error: error.message || String(error), message: null });
    }
  }, [api, owner]);

  useEffect(() => {
    load();
  }, [load]);

  const respond = useCallback(
    async (rec, action, reason) => {
      const payload = { action, user };
      if (action === 'dismissed') payload.reason = reason || 'not_relevant';
      if (action === 'snoozed') payload.snooze_until = snoozeUntil(now(), SNOOZE_DAYS);
      setBusy(rec.id);
      try {
        await api.feedback(rec.id, payload);
        setAnswered((current) => ({ ...current, [rec.id]: action }));
        if (addAlert) addAlert({ type: 'success', message: `${labelOf(action)}: ${rec.title}` });
      } catch (error) {
        if (addAlert) addAlert({ type: 'danger', message: `Could not save your answer: ${error.message}` });
      } finally {
        setBusy(null);
      }
    },
    [api, user, addAlert, now],
  );

  if (state.status === 'loading') {
    return <LoadingSpinner label="Loading your next best actions…" layout="centered" />;
  }
  if (state.status === 'error') {
    return (
      <Flex direction="column" gap="small">
        <Alert title="Your list is not available right now" variant="danger">
          {state.error}
        </Alert>
        <Button onClick={load} testId="retry">
          Try again
        </Button>
      </Flex>
    );
  }
  if (state.items.length === 0) {
    return (
      <EmptyState title="Nothing in your list today" layout="vertical">
        {state.message ? (
          // The service's reason (the viewer is no owner in this portal) beats the generic "none is due now".
          <Text testId="today-empty-reason">{state.message}</Text>
        ) : (
          <Text>Stepwise picks a short list each day from all your deals and companies; none is due now.</Text>
        )}
      </EmptyState>
    );
  }
  const open = state.items.filter((rec) => !answered[rec.id]).length;
  return (
    <Flex direction="column" gap="small">
      <Text variant="microcopy" testId="today-summary">
        {`${open} of ${state.items.length} left${state.asOf ? ` · as of ${state.asOf}` : ''}`}
      </Text>
      {state.items.map((rec) => (
        <TodayItem
          key={rec.id}
          rec={rec}
          companyId={companyId}
          answered={answered[rec.id]}
          busy={busy === rec.id}
          onRespond={respond}
        />
      ))}
    </Flex>
  );
}
