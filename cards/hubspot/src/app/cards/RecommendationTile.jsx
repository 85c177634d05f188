import React from 'react';
import { Divider, Flex, Heading, Tag, Text, Tile } from '@hubspot/ui-extensions';
import { AnswerControls } from './AnswerControls.jsx';

const URGENCY_TAG = { HIGH: 'error', MEDIUM: 'warning', LOW: 'default' };

function percent(rate) {
  return rate === null || rate === undefined ? 'no history yet' : `${Math.round(rate * 100)}%`;
}

function offerLines(offer) {
  if (!offer) return [];
  const lines = [];
  if (offer.products && offer.products.length) lines.push(`Products: ${offer.products.join(', ')}`);
  if (offer.bundle && offer.bundle.length) lines.push(`Bundle: ${[].concat(offer.bundle).join(', ')}`);
  if (offer.max_discount_pct !== null && offer.max_discount_pct !== undefined) lines.push(`Max discount: ${offer.max_discount_pct}%`);
  if (offer.asset) lines.push(`Asset: ${offer.asset.title || offer.asset}`);
  return lines;
}

function Section({ title, lines, testId }) {
  if (!lines || lines.length === 0) return null;
  return (
    <Flex direction="column" gap="flush" testId={testId}>
      <Text format={{ fontWeight: 'bold' }}>{title}</Text>
      {lines.map((line, i) => (
        <Text key={i}>{`• ${line}`}</Text>
      ))}
    </Flex>
  );
}

// One recommendation laid out like seed 001's card: title, Score | Urgency | Impact, why, how, offer,
// constraints, best before and success rate, then the rep's answer.
export function RecommendationTile({ rec, answered, busy, showAlternatives, onRespond }) {
  const score = Math.round(rec.score);
  return (
    <Tile compact={true} testId={`rec-${rec.id}`}>
      <Flex direction="column" gap="small">
        <Flex direction="row" justify="between" align="center">
          <Heading>{`🎯 ${rec.title}`}</Heading>
          <Tag variant={URGENCY_TAG[rec.urgency] || 'default'}>{rec.urgency}</Tag>
        </Flex>
        <Text testId={`summary-${rec.id}`}>{`Score: ${score}/100 | Urgency: ${rec.urgency} | Impact: ${rec.expected_impact || '—'}`}</Text>
        <Section title="Why" lines={rec.why} testId={`why-${rec.id}`} />
        <Section title="How" lines={rec.how} testId={`how-${rec.id}`} />
        <Section title="Offer" lines={offerLines(rec.offer)} testId={`offer-${rec.id}`} />
        <Section title="Constraints" lines={rec.constraints} testId={`constraints-${rec.id}`} />
        <Text variant="microcopy" testId={`timing-${rec.id}`}>
          {`⏰ Best before: ${rec.best_before || '—'} | 📊 Success rate: ${percent(rec.success_rate)}`}
        </Text>
        {showAlternatives && (rec.alternatives || []).length > 0 && (
          <Section
            title="Alternatives"
            testId={`alternatives-${rec.id}`}
            lines={rec.alternatives.map((alt) => `Score ${Math.round(alt.score)}: ${alt.title} (${String(alt.urgency).toLowerCase()} urgency)`)}
          />
        )}
        <Divider />
        <AnswerControls rec={rec} answered={answered} busy={busy} onRespond={onRespond} />
      </Flex>
    </Tile>
  );
}
