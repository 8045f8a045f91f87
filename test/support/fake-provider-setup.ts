// vitest globalSetup for the edge project: starts the fake provider and a real sidecar process
// (the tiny model, real node-llama-cpp) and hands their addresses to the tests, which run inside
// workerd, through provide/inject.
import type { TestProject } from "vitest/node";
import "./fake-provider-protocol.ts";
import { startFakeProvider } from "./fake-provider.ts";
import { startSidecarProcess } from "./sidecar-process.ts";

export default async function setup(project: TestProject) {
  const fake = await startFakeProvider();
  project.provide("fakeProviderUrl", fake.url);
  project.provide("closedPort", fake.closedPort);
  const sidecar = await startSidecarProcess({ args: ["--threads", "1", "--context-size", "2048"] });
  project.provide("sidecarUrl", sidecar.url);
  project.provide("sidecarToken", sidecar.token);
  return async () => {
    await sidecar.stop();
    await fake.close();
  };
}
