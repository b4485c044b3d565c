/**
 * Root hooks for the whole suite: peers made through `spec/helpers.ts` are checked for leaks after
 * each test, and the run ends by checking that no handle (process, worker, socket, timer) is left.
 * A leak fails the suite instead of hanging it: mocha runs without --exit.
 */
import { closeTracked } from './helpers.js'

/** Resource kinds that belong to the test runner itself, not to anything a test opened. */
const RUNNER_RESOURCES = new Set(['TTYWrap', 'PipeWrap', 'FSReqCallback', 'CloseReq'])

export const mochaHooks = {
  async afterEach(): Promise<void> {
    await closeTracked()
  },
  async afterAll(this: Mocha.Context): Promise<void> {
    // Once this hook awaits, mocha arms a timer of its own for it: that one is not a leak.
    const hook = this.runnable() as unknown as { timer?: { hasRef?(): boolean } }
    const leftover = (): string[] => {
      const left = process.getActiveResourcesInfo().filter((kind) => !RUNNER_RESOURCES.has(kind))
      const own = hook.timer?.hasRef?.() === true ? left.indexOf('Timeout') : -1
      if (own >= 0) left.splice(own, 1)
      return left
    }
    // Give exiting children and workers a moment to be reaped before looking.
    for (let i = 0; i < 20 && leftover().length > 0; i++) await new Promise((resolve) => setTimeout(resolve, 100))
    const left = leftover()
    if (left.length > 0) {
      console.error(`\nLeak: the suite left these handles open: ${left.join(', ')}`)
      process.exitCode = 1
      // Leaked handles would keep mocha alive forever; fail instead of hanging.
      setTimeout(() => process.exit(1), 2000).unref()
    }
  },
}
