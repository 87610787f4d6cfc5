import { Fragment, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { auth } from './api.js';
import { useAuthState } from './data.js';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { href, Link, useRoute } from './location.js';
import { LogsPage } from './pages/Logs.js';
import { PipelinePage } from './pages/Pipeline.js';
import { TemplatePage } from './pages/Template.js';
import { TemplatesPage } from './pages/Templates.js';

/** `/` focuses the page's search box unless one is typing; Escape leaves a field. */
function useKeyboard(): void {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement;
      const typing = target.matches('input, textarea, select, [contenteditable]');
      if (event.key === '/' && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
        const search = document.getElementById('search') as HTMLInputElement | null;
        if (search) {
          event.preventDefault();
          search.focus();
          search.select();
        }
      } else if (event.key === 'Escape' && typing) {
        target.blur();
      }
    };
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);
}

const PAGES = [
  { path: '/logs', label: 'Logs' },
  { path: '/templates', label: 'Templates' },
  { path: '/pipeline', label: 'Pipeline' },
];

/** Asks for the bearer token of a console with `auth`; the pages load again once it is entered. */
function TokenForm(props: { refused: boolean; onToken: () => void }) {
  const [token, setToken] = useState('');
  return (
    <form
      class="token-form"
      onSubmit={(event) => {
        event.preventDefault();
        if (token.trim() === '') return;
        auth.set(token.trim());
        props.onToken();
      }}
    >
      <label for="token">
        {props.refused
          ? 'The token was refused. Enter the token of this console:'
          : "This console needs a token (its auth authenticator's, e.g. bearertokenauth's):"}
      </label>
      <input
        id="token"
        name="token"
        type="password"
        autoComplete="current-password"
        autoFocus
        value={token}
        onInput={(event) => setToken(event.currentTarget.value)}
      />
      <button type="submit">Sign in</button>
      <span class="muted">kept for this tab only (sessionStorage)</span>
    </form>
  );
}

function App() {
  const route = useRoute();
  const authState = useAuthState();
  const [signIns, setSignIns] = useState(0);
  useKeyboard();
  const path = route.path === '/' ? '/logs' : route.path.replace(/\/+$/, '');
  const templateId = /^\/templates\/([^/]+)$/.exec(path)?.[1];
  const section = templateId ? '/templates' : path;
  const range = { from: route.params.get('from') ?? undefined, to: route.params.get('to') ?? undefined };

  useEffect(() => {
    const label = PAGES.find((p) => p.path === section)?.label ?? 'Not found';
    document.title = `${templateId ? `Template ${templateId}` : label} · otelhouse`;
  }, [section, templateId]);

  let page;
  if (templateId) page = <TemplatePage id={decodeURIComponent(templateId)} params={route.params} />;
  else if (path === '/logs') page = <LogsPage params={route.params} />;
  else if (path === '/templates') page = <TemplatesPage params={route.params} />;
  else if (path === '/pipeline') page = <PipelinePage />;
  else
    page = (
      <main class="page">
        <p class="empty">No page at {route.path}.</p>
      </main>
    );

  return (
    <>
      <header class="top">
        <Link href="/logs" class="brand">
          otelhouse
        </Link>
        <nav aria-label="Pages">
          {PAGES.map((p) => (
            <Link
              href={p.path === '/pipeline' ? p.path : href(p.path, range)}
              class={section === p.path ? 'active' : ''}
              aria-current={section === p.path ? 'page' : undefined}
            >
              {p.label}
            </Link>
          ))}
        </nav>
        <span class="hint">times in UTC · press / to search</span>
      </header>
      {authState !== 'none' && <TokenForm refused={authState === 'refused'} onToken={() => setSignIns((n) => n + 1)} />}
      <Fragment key={signIns}>{page}</Fragment>
    </>
  );
}

render(<App />, document.getElementById('app')!);
