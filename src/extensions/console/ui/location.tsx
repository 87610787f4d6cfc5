import { useEffect, useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';

/**
 * Where the console is: the page is the path, its state (filters, range, sort) the query string, so every view can be
 * linked.
 */
export interface Route {
  path: string;
  params: URLSearchParams;
}

const listeners = new Set<() => void>();

function currentRoute(): Route {
  return { path: location.pathname, params: new URLSearchParams(location.search) };
}

export function href(path: string, params: Record<string, string | undefined> | URLSearchParams = {}): string {
  const search = new URLSearchParams();
  const entries = params instanceof URLSearchParams ? [...params] : Object.entries(params);
  for (const [key, value] of entries) if (value !== undefined && value !== '') search.set(key, value);
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

export function navigate(url: string, options: { replace?: boolean } = {}): void {
  if (url === location.pathname + location.search) return;
  if (options.replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  for (const listener of listeners) listener();
}

/** Changes some query parameters of the current page (undefined or '' removes one), keeping the others. */
export function setParams(changes: Record<string, string | undefined>, options: { replace?: boolean } = {}): void {
  const params = new URLSearchParams(location.search);
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined || value === '') params.delete(key);
    else params.set(key, value);
  }
  navigate(href(location.pathname, params), options);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    listeners.add(update);
    addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      removeEventListener('popstate', update);
    };
  }, []);
  return route;
}

/** A link that changes the page without reloading it; modified clicks (new tab) stay the browser's. */
export function Link(props: {
  href: string;
  class?: string;
  children: ComponentChildren;
  title?: string;
  'aria-current'?: 'page' | undefined;
}) {
  const { href: target, children, ...rest } = props;
  return (
    <a
      {...rest}
      href={target}
      onClick={(event) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        navigate(target);
      }}
    >
      {children}
    </a>
  );
}
