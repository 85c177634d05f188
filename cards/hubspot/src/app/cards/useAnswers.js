import { useCallback, useState } from 'react';
import { snoozeUntil } from './api.js';
import { SNOOZE_DAYS, labelOf } from './config.js';

/**
 * A rep's answers on the cards a view shows: posts accept / dismiss (with a reason) / snooze to the card
 * service, remembers which card is being saved and which are answered. One place for the deal card and
 * the Today card, so both send the same payload.
 */
export function useAnswers({ api, user, addAlert, now }) {
  const [answered, setAnswered] = useState({});
  const [busy, setBusy] = useState(null);
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
  return { answered, busy, respond };
}
