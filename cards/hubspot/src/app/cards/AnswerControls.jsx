import React, { useState } from 'react';
import { Button, ButtonRow, Flex, Select, Text } from '@hubspot/ui-extensions';
import { DISMISS_REASONS, labelOf } from './config.js';

/**
 * Accept / Snooze / Dismiss with a reason for one card, or "✓ Accepted" once answered: the same controls and
 * test ids on the deal card's tiles and the Today list. `compact` is the sidebar's smaller layout.
 */
export function AnswerControls({ rec, answered, busy, onRespond, compact = false }) {
  const [reason, setReason] = useState('not_relevant');
  if (answered) {
    return <Text format={{ fontWeight: 'demibold' }} testId={`answered-${rec.id}`}>{`✓ ${labelOf(answered)}`}</Text>;
  }
  const size = compact ? { size: 'extra-small' } : {};
  return (
    <Flex direction={compact ? 'column' : 'row'} gap={compact ? 'extra-small' : 'small'} {...(compact ? {} : { align: 'end', wrap: 'wrap' })}>
      <ButtonRow>
        <Button {...size} variant="primary" disabled={busy} onClick={() => onRespond(rec, 'accepted')} testId={`accept-${rec.id}`}>
          Accept
        </Button>
        <Button {...size} variant="secondary" disabled={busy} onClick={() => onRespond(rec, 'snoozed')} testId={`snooze-${rec.id}`}>
          Snooze
        </Button>
        <Button {...size} variant="destructive" disabled={busy} onClick={() => onRespond(rec, 'dismissed', reason)} testId={`dismiss-${rec.id}`}>
          Dismiss
        </Button>
      </ButtonRow>
      <Select
        name={`reason-${rec.id}`}
        label={compact ? 'Reason to dismiss' : 'Reason'}
        value={reason}
        options={DISMISS_REASONS}
        onChange={(value) => setReason(String(value))}
        testId={`reason-${rec.id}`}
      />
    </Flex>
  );
}
