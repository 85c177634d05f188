import React from 'react';
import { hubspot } from '@hubspot/ui-extensions';
import { RecommendationsCard } from './RecommendationsCard.jsx';
import { createApi } from './api.js';
import { STEPWISE_BASE_URL, sourceFor } from './config.js';

hubspot.extend(({ context, actions }) => (
  <RecommendationsCard
    api={createApi(hubspot.fetch, STEPWISE_BASE_URL)}
    source={sourceFor(context.portal.id)}
    recordType="deal"
    recordId={String(context.crm.objectId)}
    user={context.user.email || String(context.user.id)}
    addAlert={actions.addAlert}
  />
));
