import React, { useCallback, useEffect, useState } from 'react';
import { Alert, Button, EmptyState, Flex, LoadingSpinner, Tag, Text, Tile } from '@hubspot/ui-extensions';
import { CrmActionLink } from '@hubspot/ui-extensions/crm';
import { AnswerControls } from './AnswerControls.jsx';
import { OBJECT_TYPE_IDS } from './config.js';
import { useAnswers } from './useAnswers.js';

const URGENCY_TAG = { HIGH: 'error', MEDIUM: 'warning', LOW: 'default' };

// The HubSpot record a card is about: its deal, or its company for an account-level card.
export function recordOf(rec) {
  if (rec.record_type === 'deal' && rec.deal_id) return { objectTypeId: OBJECT_TYPE_IDS.deals, objectId: Number(rec.deal_id), label: 'Open the deal' };
  if (rec.account_id) return { objectTypeId: OBJECT_TYPE_IDS.companies, objectId: Number(rec.account_id), label: 'Open the company' };
  return null;
}

function TodayItem({ rec, companyId, answered, busy, onRespond }) {
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
        <AnswerControls rec={rec} answered={answered} busy={busy} onRespond={onRespond} compact />
      </Flex>
    </Tile>
  );
}

// "My next best actions": the viewing rep's Today (a short ranked list across all their deals and companies),
// in the sidebar of every contact and company record, so the day's plan is one glance away while they work.
export function TodayCard({ api, owner, user, companyId, addAlert, now = () => new Date() }) {
  const [state, setState] = useState({ status: 'loading', items: [], asOf: null, error: null, message: null });
  const { answered, busy, respond } = useAnswers({ api, user, addAlert, now });

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
