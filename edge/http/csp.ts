import { toBase64url } from '../../shared/base64url.js';

/** A fresh nonce for one page's inline script (128 random bits). */
export const newNonce = () => toBase64url(crypto.getRandomValues(new Uint8Array(16)));

/**
 * A Content-Security-Policy that lets a page load only what this gateway serves: its own scripts (and
 * the one inline script carrying `nonce`), styles, images as data URLs, and calls to this origin.
 * `inlineStyles`: the page's script inserts `<style>` elements (Scalar's reference does).
 */
export const contentSecurityPolicy = (opts: { nonce?: string; inlineStyles?: boolean } = {}) =>
  [
    "default-src 'none'",
    `script-src 'self'${opts.nonce ? ` 'nonce-${opts.nonce}'` : ''}`,
    `style-src 'self'${opts.inlineStyles ? " 'unsafe-inline'" : ''}`,
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
