import { useState } from "react";
import {
  BillingBanner,
  FeatureGate,
  ManageSubscriptionButton,
  useEntitlements,
} from "atlas-widgets/react";

export function Dashboard({ user, onSignOut }) {
  const { plan } = useEntitlements();
  return (
    <>
      <header>
        <h1>Reports</h1>
        <span data-testid="user">{user}</span>
        <span className="plan" data-testid="plan">
          {plan ?? "…"}
        </span>
        <ManageSubscriptionButton />
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <BillingBanner />
      <AtlasStatus />
      <main>
        <section className="panel">
          <h2>Saved reports</h2>
          <p>Q1 revenue · Q2 churn · Q3 pipeline</p>
        </section>
        <FeatureGate
          feature="exports"
          loading={<Placeholder />}
          fallback={<Upgrade feature="Exports" plan="Pro" testId="exports-fallback" />}
        >
          <Backed testId="exports-panel" title="Exports" path="/reports/export" />
        </FeatureGate>
        <FeatureGate
          feature="advisory-sessions"
          loading={<Placeholder />}
          fallback={<Upgrade feature="Advisor sessions" plan="Advisory" testId="advisor-fallback" />}
        >
          <Backed testId="advisor-panel" title="Advisor sessions" path="/advisor/slots" />
        </FeatureGate>
      </main>
    </>
  );
}

/** Says when Atlas is not answering: paid panels hold until the answer is too old. */
function AtlasStatus() {
  const { snapshot } = useEntitlements();
  if (!snapshot.error) return null;
  const text = snapshot.fresh
    ? "Cannot reach billing right now; showing your plan as last confirmed."
    : "Cannot reach billing: paid features are hidden until it answers.";
  return (
    <p className="atlas-status" data-testid="atlas-status" data-fresh={snapshot.fresh}>
      {text}
    </p>
  );
}

/** A panel whose content comes from an endpoint the backend gates on the same feature. */
function Backed({ testId, title, path }) {
  const [result, setResult] = useState(null);
  const load = async () => {
    const response = await fetch(path);
    setResult(`${response.status} ${await response.text()}`);
  };
  return (
    <section className="panel" data-testid={testId}>
      <h2>{title}</h2>
      <button type="button" onClick={load}>
        Open
      </button>
      {result && <pre>{result}</pre>}
    </section>
  );
}

function Upgrade({ feature, plan, testId }) {
  return (
    <section className="panel locked" data-testid={testId}>
      <h2>{feature}</h2>
      <p>
        {feature} come with the {plan} plan.
      </p>
    </section>
  );
}

function Placeholder() {
  return <section className="panel placeholder" aria-busy="true" />;
}
