// The example backend's stand-in sign-in: a cookie naming the user. Your app has its own.

export async function currentUser() {
  const response = await fetch("/session", { headers: { accept: "application/json" } });
  if (response.status === 401) return null;
  if (!response.ok) throw new Error(`/session answered ${response.status}`);
  return (await response.json()).user_id;
}

export async function signIn(userId) {
  const response = await fetch("/session", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user_id: userId }),
  });
  if (!response.ok) throw new Error((await response.json()).message);
}

export async function signOut() {
  await fetch("/session", { method: "DELETE" });
}
