import { render } from 'preact';
import { useEffect } from 'preact/hooks';
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

function App() {
  const route = useRoute();
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
      {page}
    </>
  );
}

render(<App />, document.getElementById('app')!);
