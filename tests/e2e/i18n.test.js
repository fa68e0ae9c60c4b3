// Every text exists in every language, with the same placeholders (no English left over).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LANGUAGES, TABLES } from '../../partner-app/i18n.js';

const placeholders = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

test('English, Chinese and Spanish have the same keys and placeholders', () => {
  assert.deepEqual(Object.keys(LANGUAGES), ['en', 'zh', 'es']);
  const keys = Object.keys(TABLES.en).sort();
  for (const lang of ['zh', 'es']) {
    assert.deepEqual(Object.keys(TABLES[lang]).sort(), keys, `${lang} keys`);
    for (const key of keys) {
      assert.deepEqual(placeholders(TABLES[lang][key]), placeholders(TABLES.en[key]), `${lang}.${key}`);
      if (!['title', 'minutes_seconds', 'seconds'].includes(key)) {
        assert.notEqual(TABLES[lang][key], TABLES.en[key], `${lang}.${key} is still English`);
      }
    }
  }
});
