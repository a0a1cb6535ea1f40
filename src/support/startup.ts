import { StartupError } from './errors.js';
import { log } from './log.js';

/**
 * Ends a process whose start-up failed: one log line saying why (the message of a StartupError, or
 * of a bad setting, says what to do), `cleanup` (stopping what was started), exit code 1. Never a
 * stack trace, and never the connection string or its password, whatever the error's text.
 */
export async function failStartup(error: unknown, cleanup?: () => Promise<void>): Promise<never> {
  let message = error instanceof Error ? error.message : String(error);
  if (!(error instanceof StartupError)) message = `start-up failed: ${message}`;
  const url = process.env.DATABASE_URL;
  let password = '';
  try {
    password = url ? decodeURIComponent(new URL(url).password) : '';
  } catch {
    // Not a URL: the whole text is still hidden below.
  }
  for (const secret of [url, password]) if (secret) message = message.split(secret).join('***');
  log(message, { startup: 'failed' }, 'error');
  await cleanup?.().catch(() => {});
  process.exit(1);
}
