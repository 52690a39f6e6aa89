import { useEffect, useMemo, useState } from "react";
import { createEntitlements } from "atlas-widgets";
import { EntitlementsProvider } from "atlas-widgets/react";
import { Dashboard } from "./Dashboard.jsx";
import { currentUser, signIn, signOut } from "./session.js";

// Demo knobs: ?refreshMs=…&maxAgeMs=… shorten the package's defaults (5 and 10 minutes).
const query = new URLSearchParams(window.location.search);
const timing = {
  refreshIntervalMs: Number(query.get("refreshMs")) || 5 * 60_000,
  maxAgeMs: Number(query.get("maxAgeMs")) || 10 * 60_000,
};

export function App() {
  const [user, setUser] = useState(undefined); // undefined: asking; null: signed out
  const [problem, setProblem] = useState(null);
  useEffect(() => {
    currentUser().then(setUser, (error) => setProblem(error.message));
  }, []);
  // One Entitlements per signed-in user: the backend forwards /atlas/* to Atlas with the
  // session cookie deciding who the user is, so the page holds no token.
  const entitlements = useMemo(
    () => user && createEntitlements({ apiUrl: "/atlas", userId: user, ...timing }),
    [user],
  );

  if (problem) return <p role="alert">{problem}</p>;
  if (user === undefined) return <p>Loading…</p>;
  if (user === null) {
    return <SignIn onSignedIn={setUser} />;
  }
  const leave = async () => {
    await signOut();
    setUser(null);
  };
  return (
    <EntitlementsProvider client={entitlements}>
      <Dashboard user={user} onSignOut={leave} />
    </EntitlementsProvider>
  );
}

function SignIn({ onSignedIn }) {
  const [userId, setUserId] = useState("");
  const [error, setError] = useState(null);
  const submit = async (event) => {
    event.preventDefault();
    try {
      await signIn(userId);
      onSignedIn(userId);
    } catch (failure) {
      setError(failure.message);
    }
  };
  return (
    <form className="sign-in" onSubmit={submit}>
      <h1>Reports</h1>
      <label>
        User id <input name="user_id" value={userId} onChange={(e) => setUserId(e.target.value)} />
      </label>
      <button type="submit">Sign in</button>
      {error && <p role="alert">{error}</p>}
    </form>
  );
}
