import { EdgechatClient, type Session, type User } from "../../src/client";

const KEY = "edgechat.session";
const USER = "edgechat.user";
const NAMES = "edgechat.names";

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
  onSession: (s) => {
    if (s) localStorage.setItem(KEY, JSON.stringify(s));
    else {
      localStorage.removeItem(KEY);
      saveUser(null);
    }
  },
});

/** The signed-in user as last seen, so a reload while offline still opens the app. */
export function savedUser(): User | null {
  try {
    return JSON.parse(localStorage.getItem(USER) ?? "null");
  } catch {
    return null;
  }
}

export function saveUser(user: User | null): void {
  if (user) localStorage.setItem(USER, JSON.stringify(user));
  else localStorage.removeItem(USER);
}

/** Display names seen so far (members who left included, so old notices keep their names). */
export function knownNames(): Map<string, string> {
  try {
    return new Map(Object.entries(JSON.parse(localStorage.getItem(NAMES) ?? "{}") as Record<string, string>));
  } catch {
    return new Map();
  }
}

export function rememberNames(people: { userId: string; displayName: string }[]): Map<string, string> {
  const names = knownNames();
  for (const p of people) names.set(p.userId, p.displayName);
  localStorage.setItem(NAMES, JSON.stringify(Object.fromEntries(names)));
  return names;
}
