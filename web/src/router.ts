import { useEffect, useState } from "preact/hooks";

/**
 * The app's screens are addresses, so a reload, a shared link and the back button all land where they
 * should. The worker serves the app for any path it does not know (single-page-application assets).
 */
export type Route =
  | { screen: "home" }
  | { screen: "room"; roomId: string; seq: number | null; panel: "info" | "reports" | null }
  | { screen: "settings" }
  | { screen: "reports" };

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const ROOM = new RegExp(`^/rooms/(${UUID})(?:/(info|reports)|/messages/(\\d+))?/?$`);

export function parse(path: string): Route {
  const room = ROOM.exec(path);
  if (room?.[1])
    return {
      screen: "room",
      roomId: room[1],
      seq: room[3] ? Number(room[3]) : null,
      panel: (room[2] as "info" | "reports" | undefined) ?? null,
    };
  if (path === "/settings") return { screen: "settings" };
  if (path === "/reports") return { screen: "reports" };
  return { screen: "home" };
}

export const paths = {
  home: () => "/",
  room: (id: string) => `/rooms/${id}`,
  message: (id: string, seq: number) => `/rooms/${id}/messages/${seq}`,
  info: (id: string) => `/rooms/${id}/info`,
  roomReports: (id: string) => `/rooms/${id}/reports`,
  settings: () => "/settings",
  reports: () => "/reports",
};

const listeners = new Set<() => void>();

/** Moves to `path` as a new history entry (or in place with `replace`), and tells every useRoute. */
export function navigate(path: string, opts: { replace?: boolean } = {}): void {
  if (path === location.pathname) return;
  if (opts.replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  for (const l of listeners) l();
}

/** Addresses of the earlier app (`#/room/<id>`) still open their room. */
function upgradeLegacyHash(): void {
  const legacy = new RegExp(`^#/room/(${UUID})$`).exec(location.hash);
  if (legacy?.[1]) history.replaceState(null, "", paths.room(legacy[1]));
}

export function useRoute(): Route {
  const [route, setRoute] = useState<Route>(() => {
    upgradeLegacyHash();
    return parse(location.pathname);
  });
  useEffect(() => {
    const update = () => setRoute(parse(location.pathname));
    listeners.add(update);
    addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      removeEventListener("popstate", update);
    };
  }, []);
  return route;
}

/** A same-app link: a real <a href> (open in a new tab works) that moves without a page load. */
export function onLinkClick(e: MouseEvent, path: string): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(path);
}
