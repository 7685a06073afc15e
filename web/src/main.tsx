import { render } from "preact";
import { App } from "./app";

render(<App />, document.getElementById("app") as HTMLElement);

/** The shell a reload needs offline (see public/sw.js): the page and the assets it loaded. */
async function keepShellOffline(): Promise<void> {
  if (!("serviceWorker" in navigator) || !("caches" in window) || import.meta.env.DEV) return;
  await navigator.serviceWorker.register("/sw.js");
  const assets = [
    ...[...document.querySelectorAll<HTMLScriptElement>("script[src]")].map((s) => s.src),
    ...[...document.querySelectorAll<HTMLLinkElement>('link[rel="stylesheet"], link[rel="modulepreload"]')].map(
      (l) => l.href,
    ),
  ].filter((u) => new URL(u).origin === location.origin);
  const cache = await caches.open("edgechat-shell-v1");
  await cache.addAll(["/", ...assets]);
}

keepShellOffline().catch(() => undefined);
