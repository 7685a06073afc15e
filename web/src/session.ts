import { EdgechatClient, type Session } from "../../src/client";

const KEY = "edgechat.session";

function saved(): Session | undefined {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? "null") ?? undefined;
  } catch {
    return undefined;
  }
}

/** One client for the page; tokens survive a reload (and are dropped on logout or a failed refresh). */
export const client = new EdgechatClient({
  baseUrl: location.origin,
  session: saved(),
  onSession: (s) => (s ? localStorage.setItem(KEY, JSON.stringify(s)) : localStorage.removeItem(KEY)),
});
