import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { STEPWISE_BASE_URL } from '../config.js';

// The project files HubSpot reads on upload: each card's entrypoint exists and its location is one a card can use.
const CARDS = join(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(CARDS, '..', '..');
const metas = readdirSync(CARDS)
  .filter((name) => name.endsWith('-hsmeta.json'))
  .map((name) => [name, JSON.parse(readFileSync(join(CARDS, name), 'utf8'))]);

describe('the HubSpot project', () => {
  it('has the deal, company and Today cards', () => {
    expect(metas.map(([, meta]) => meta.uid).sort()).toEqual(['stepwise-company-card', 'stepwise-deal-card', 'stepwise-today-card']);
  });

  it.each(metas)('%s points at a file that exists, in a card location', (name, meta) => {
    expect(meta.type).toBe('card');
    expect(existsSync(join(SRC, meta.config.entrypoint))).toBe(true);
    expect(['crm.record.tab', 'crm.record.sidebar', 'crm.preview']).toContain(meta.config.location);
    expect(meta.config.objectTypes.length).toBeGreaterThan(0);
  });

  it('puts "My next best actions" in the sidebar of contacts and companies', () => {
    const today = Object.fromEntries(metas.map(([, meta]) => [meta.uid, meta]))['stepwise-today-card'];
    expect(today.config.location).toBe('crm.record.sidebar');
    expect(today.config.objectTypes).toEqual(['contacts', 'companies']);
  });

  it('lets hubspot.fetch reach the card service', () => {
    const app = JSON.parse(readFileSync(join(SRC, 'app', 'app-hsmeta.json'), 'utf8'));
    expect(app.config.permittedUrls.fetch).toContain(STEPWISE_BASE_URL);
  });
});
