// The React binding: a provider that owns an Entitlements' reading, a hook, and the three
// widgets. Written with createElement, so it needs no build step of its own.
import {
  Fragment,
  createContext,
  createElement,
  useContext,
  useEffect,
  useState,
  useSyncExternalStore,
} from "react";

const EntitlementsContext = createContext(null);

/**
 * Makes `client` (an `Entitlements`) available below it; starts its reading when mounted and
 * stops it when unmounted. Give a new client when the signed-in user changes.
 */
export function EntitlementsProvider({ client, children }) {
  useEffect(() => {
    client.start();
    return () => client.stop();
  }, [client]);
  return createElement(EntitlementsContext.Provider, { value: client }, children);
}

/** The `Entitlements` of the nearest provider; re-renders on every change it announces. */
export function useEntitlementsClient() {
  const client = useContext(EntitlementsContext);
  if (client === null) {
    throw new Error("atlas-widgets: use this inside an <EntitlementsProvider client={…}>");
  }
  useSyncExternalStore(client.subscribe, client.getSnapshot, client.getSnapshot);
  return client;
}

/**
 * What the signed-in user may use, read on each render: `plan`, `status`, `banner` and
 * `graceUntil` (null unless a fresh answer says), `hasFeature(key)`, `limit(key)`, and the
 * raw `snapshot` (last good answer, `fresh`, `error`, `refreshing`, `confirmedAt`).
 */
export function useEntitlements() {
  const client = useEntitlementsClient();
  return {
    snapshot: client.getSnapshot(),
    plan: client.plan,
    status: client.status,
    banner: client.banner,
    graceUntil: client.graceUntil,
    hasFeature: (feature) => client.hasFeature(feature),
    limit: (feature) => client.limit(feature),
    openPortal: () => client.openPortal(),
  };
}

/** `{allowed, reason, limit}` for one feature (see `Entitlements.check`). */
export function useFeature(feature) {
  return useEntitlementsClient().check(feature);
}

/**
 * Its children when the user has `feature`, else `fallback` (nothing by default): while
 * loading, after a failed first read, and once the answer is older than `maxAgeMs` too.
 * `loading`, when given, is shown instead of `fallback` until the first answer.
 */
export function FeatureGate({ feature, fallback = null, loading, children }) {
  const decision = useFeature(feature);
  if (decision.allowed) return createElement(Fragment, null, children);
  if (decision.reason === "loading" && loading !== undefined) return loading;
  return fallback;
}

/**
 * A `role="alert"` banner while the user's payment is failing (`banner === "past_due"` in a
 * fresh answer), with a button to the customer portal. `children` replaces the message; a
 * function gets `{plan, graceUntil}`.
 */
export function BillingBanner({
  children,
  className = "atlas-billing-banner",
  buttonLabel = "Update payment method",
}) {
  const { banner, plan, graceUntil } = useEntitlements();
  if (banner !== "past_due") return null;
  const message =
    typeof children === "function"
      ? children({ plan, graceUntil })
      : (children ?? pastDueMessage(graceUntil));
  return createElement(
    "div",
    { role: "alert", className, "data-atlas-banner": banner },
    createElement("span", { className: `${className}-message` }, message),
    createElement(ManageSubscriptionButton, null, buttonLabel),
  );
}

/**
 * A button that opens the Stripe customer portal: posts to the portal endpoint and follows
 * the URL it answers. It stays disabled while the page leaves; on failure it shows a short
 * message (`role="alert"`) unless `onError` takes the `AtlasError`.
 */
export function ManageSubscriptionButton({
  children = "Manage subscription",
  className = "atlas-manage-subscription",
  onError,
}) {
  const client = useEntitlementsClient();
  const [pending, setPending] = useState(false);
  const [error, setError] = useState(null);
  const open = async () => {
    setPending(true);
    setError(null);
    try {
      await client.openPortal();
    } catch (failure) {
      setPending(false);
      if (onError) onError(failure);
      else setError(failure);
    }
  };
  return createElement(
    Fragment,
    null,
    createElement(
      "button",
      { type: "button", className, onClick: open, disabled: pending, "aria-busy": pending },
      children,
    ),
    error &&
      createElement("span", { role: "alert", className: `${className}-error` }, portalMessage(error)),
  );
}

function pastDueMessage(graceUntil) {
  const lead = "Your last payment failed. Update your payment method to keep your plan.";
  if (!graceUntil) return lead;
  return `${lead} Paid features end on ${new Date(graceUntil).toLocaleDateString()}.`;
}

function portalMessage(error) {
  if (error?.code === "no_customer") return "You have no subscription to manage yet.";
  return "The billing portal cannot be opened right now. Please try again later.";
}
