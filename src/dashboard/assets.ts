import { CLIENT_SCRIPT } from './client-script.js';
import { STYLES } from './styles.js';

/** A bar chart as the tab's icon, so the browser's request for one is answered, not a 404. */
const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#0f172a"/><rect x="3" y="8" width="2.5" height="5" fill="#93c5fd"/><rect x="6.75" y="4" width="2.5" height="9" fill="#3b82f6"/><rect x="10.5" y="6" width="2.5" height="7" fill="#93c5fd"/></svg>`;

/** Everything the dashboard's pages load besides themselves, served by the service (no CDN). */
export const ASSETS = {
  css: { path: '/ui/dashboard.css', type: 'text/css; charset=utf-8', body: STYLES },
  js: { path: '/ui/dashboard.js', type: 'text/javascript; charset=utf-8', body: CLIENT_SCRIPT },
  icon: { path: '/ui/icon.svg', type: 'image/svg+xml', body: ICON },
  // Browsers ask for /favicon.ico on their own (the docs page names no icon): the same picture.
  favicon: { path: '/favicon.ico', type: 'image/svg+xml', body: ICON },
} as const;
