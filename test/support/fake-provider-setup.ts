// vitest globalSetup for the edge project: starts the fake provider and hands its address to the
// tests (which run inside workerd) through provide/inject.
import type { TestProject } from "vitest/node";
import "./fake-provider-protocol.ts";
import { startFakeProvider } from "./fake-provider.ts";

export default async function setup(project: TestProject) {
  const fake = await startFakeProvider();
  project.provide("fakeProviderUrl", fake.url);
  project.provide("closedPort", fake.closedPort);
  return () => fake.close();
}
