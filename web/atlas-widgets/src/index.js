export { Entitlements, createEntitlements } from "./entitlements.js";
export { AtlasError } from "./errors.js";
