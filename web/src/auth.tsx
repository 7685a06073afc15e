import { useState } from "preact/hooks";
import { EdgechatError, type User } from "../../src/client";
import { client } from "./session";

export function Auth({ onSignedIn }: { onSignedIn: (u: User) => void }) {
  const [mode, setMode] = useState<"login" | "register">("login");
  const [error, setError] = useState<string | null>(null);

  async function submit(e: Event) {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const email = String(form.get("email"));
    const password = String(form.get("password"));
    setError(null);
    try {
      const user =
        mode === "login"
          ? await client.login({ email, password })
          : await client.register({ email, password, displayName: String(form.get("displayName")) });
      onSignedIn(user);
    } catch (err) {
      setError(err instanceof EdgechatError ? err.message : "Something went wrong");
    }
  }

  return (
    <main class="auth">
      <h1>
        <span aria-hidden="true">💬</span> edgechat
      </h1>
      <form class="auth-card form" onSubmit={submit}>
        <h2>{mode === "login" ? "Log in" : "Sign up"}</h2>
        {mode === "register" && (
          <>
            <label for="displayName">Display name</label>
            <input id="displayName" name="displayName" required maxLength={64} autoComplete="nickname" />
          </>
        )}
        <label for="email">Email</label>
        <input id="email" name="email" type="email" required autoComplete="email" />
        <label for="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          required
          minLength={mode === "register" ? 8 : 1}
          autoComplete={mode === "login" ? "current-password" : "new-password"}
          aria-describedby={mode === "register" ? "password-hint" : undefined}
        />
        {mode === "register" && (
          <p id="password-hint" class="hint">
            At least 8 characters.
          </p>
        )}
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="auth-actions">
          <button class="primary" type="submit">
            {mode === "login" ? "Log in" : "Sign up"}
          </button>
          <button
            type="button"
            class="link"
            onClick={() => {
              setError(null);
              setMode(mode === "login" ? "register" : "login");
            }}
          >
            {mode === "login" ? "Create an account" : "I have an account"}
          </button>
        </div>
      </form>
    </main>
  );
}
