import React, { useCallback, useEffect, useState } from 'react';
import { Alert, Button, EmptyState, Flex, LoadingSpinner, Text } from '@hubspot/ui-extensions';
import { RecommendationTile } from './RecommendationTile.jsx';
import { useAnswers } from './useAnswers.js';

const TOP = 3;

// The top 3 recommendations of a record (seed 001's card), the rest and the alternatives behind "Show more".
export function RecommendationsCard({ api, source, recordType, recordId, user, addAlert, now = () => new Date() }) {
  const [state, setState] = useState({ status: 'loading', recs: [], error: null });
  const [showMore, setShowMore] = useState(false);
  const { answered, busy, respond } = useAnswers({ api, user, addAlert, now });

  const load = useCallback(async () => {
    setState({ status: 'loading', recs: [], error: null });
    try {
      const recs = await api.recommendations(source, recordType, recordId);
      setState({ status: 'ready', recs, error: null });
    } catch (error) {
      setState({ status: 'error', recs: [], error: error.message || String(error) });
    }
  }, [api, source, recordType, recordId]);

  useEffect(() => {
    load();
  }, [load]);


  if (state.status === 'loading') {
    return <LoadingSpinner label="Loading the next best actions…" layout="centered" />;
  }
  if (state.status === 'error') {
    return (
      <Flex direction="column" gap="small">
        <Alert title="Stepwise is not reachable right now" variant="danger">
          {state.error}
        </Alert>
        <Button onClick={load} testId="retry">
          Try again
        </Button>
      </Flex>
    );
  }
  if (state.recs.length === 0) {
    return (
      <EmptyState title="Nothing to do here today" layout="vertical">
        <Text>No action is strong enough to recommend on this record right now.</Text>
      </EmptyState>
    );
  }
  const top = state.recs.slice(0, TOP);
  const more = state.recs.slice(TOP);
  const hasMore = more.length > 0 || top.some((rec) => (rec.alternatives || []).length > 0);
  return (
    <Flex direction="column" gap="medium">
      {top.map((rec) => (
        <RecommendationTile
          key={rec.id}
          rec={rec}
          answered={answered[rec.id]}
          busy={busy === rec.id}
          showAlternatives={showMore}
          onRespond={respond}
        />
      ))}
      {showMore &&
        more.map((rec) => (
          <RecommendationTile key={rec.id} rec={rec} answered={answered[rec.id]} busy={busy === rec.id} onRespond={respond} />
        ))}
      {hasMore && (
        <Button variant="transparent" onClick={() => setShowMore(!showMore)} testId="show-more">
          {showMore ? 'Show less' : 'Show more'}
        </Button>
      )}
    </Flex>
  );
}
