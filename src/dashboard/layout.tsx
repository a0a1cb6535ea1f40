import type { Child } from 'hono/jsx';
import { ASSETS } from './assets.js';

/** The dashboard's pages, for the navigation's "you are here". */
export type PageName = 'overview' | 'features' | 'run';

/**
 * The frame of every dashboard page: its title, the navigation, and the style sheet (and, on pages
 * that need it, the script), all served by this service (see assets.ts).
 */
export function Layout({ title, page, script = false, children }: { title: string; page: PageName; script?: boolean; children: Child }) {
  const link = (href: string, name: PageName | null, text: string) => (
    <li>
      <a href={href} aria-current={name === page ? 'page' : undefined}>
        {text}
      </a>
    </li>
  );
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} · lab-features-etl`}</title>
        <link rel="stylesheet" href={ASSETS.css.path} />
        <link rel="icon" href={ASSETS.icon.path} type="image/svg+xml" />
        {script ? <script src={ASSETS.js.path} defer></script> : null}
      </head>
      <body>
        <a class="skip" href="#content">
          Skip to the content
        </a>
        <header class="top">
          <p class="brand">
            <a href="/">lab-features-etl</a>
          </p>
          <nav aria-label="Dashboard">
            <ul>
              {link('/', 'overview', 'Runs & overview')}
              {link('/ui/features', 'features', 'Features')}
              {link('/docs', null, 'API docs')}
            </ul>
          </nav>
        </header>
        <main id="content">{children}</main>
      </body>
    </html>
  );
}

/** A page that only says something: a bad parameter, an unknown run. */
export function MessagePage({ title, page, children }: { title: string; page: PageName; children: Child }) {
  return (
    <Layout title={title} page={page}>
      <h1>{title}</h1>
      <p class="message message-failed">{children}</p>
      <p>
        <a href="/">Back to the runs</a>
      </p>
    </Layout>
  );
}
