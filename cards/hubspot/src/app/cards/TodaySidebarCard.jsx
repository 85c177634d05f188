import React from 'react';
import { hubspot } from '@hubspot/ui-extensions';
import { TodayCard } from './TodayCard.jsx';
import { createApi } from './api.js';
import { OBJECT_TYPE_IDS, OWNER_ME, STEPWISE_BASE_URL } from './config.js';

// The same list on every contact and company; on a company it marks the items about that company.
hubspot.extend(({ context, actions }) => (
  <TodayCard
    api={createApi(hubspot.fetch, STEPWISE_BASE_URL)}
    owner={OWNER_ME}
    user={context.user.email || String(context.user.id)}
    companyId={context.crm.objectTypeId === OBJECT_TYPE_IDS.companies ? String(context.crm.objectId) : null}
    addAlert={actions.addAlert}
  />
));
