import type { MiddlewareHandler } from 'hono';
import { API_KEY_SCANNER_PATTERN, hasReservedPrefix } from '../../shared/api-key.js';
import { ApiError } from '../../shared/errors.js';

// Parameter names clients use for keys; compared without case, `-` and `_` (apiKey, api_key, API-KEY...).
const KEY_PARAMETER_NAMES = new Set(['apikey', 'key', 'xapikey', 'token', 'accesstoken', 'authorization']);
const OUR_KEY = new RegExp(API_KEY_SCANNER_PATTERN);

const normalizeName = (name: string) => name.toLowerCase().replace(/[-_]/g, '');

const looksLikeOurKey = (text: string) => hasReservedPrefix(text.trim()) || OUR_KEY.test(text);

/**
 * Refuses any request carrying an API key in its query string (query strings end up in access logs and
 * browser histories), before anything else looks at it: 400 API_KEY_IN_QUERY, even if the header also
 * holds a good key. A custom key under an unusual name cannot be recognised; its name usually can.
 */
export function refuseKeyInQuery(): MiddlewareHandler {
  // Not async: a check that passes hands straight on (one promise fewer per request).
  return (c, next) => {
    // Most requests have no query string: no URL to parse for them.
    if (!c.req.url.includes('?')) return next();
    const url = new URL(c.req.url);
    for (const [name, value] of url.searchParams) {
      if (KEY_PARAMETER_NAMES.has(normalizeName(name)) || looksLikeOurKey(name) || looksLikeOurKey(value)) {
        throw new ApiError('API_KEY_IN_QUERY');
      }
    }
    return next();
  };
}
