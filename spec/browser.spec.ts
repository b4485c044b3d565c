/**
 * treerpc in a real Chromium: the bundle `dist/browser/treerpc.js` (built by `npm run build`) loaded
 * with one import from its URL, no bundler, by a page, a dedicated module worker, an iframe and a
 * shared worker (spec/browser/). A private HTTP server on 127.0.0.1 serves them; playwright-core
 * drives Debian's Chromium (never a downloaded browser). Each scenario runs inside the page
 * (`page.evaluate`) and returns plain data that is asserted on here.
 *
 * Without Chromium the specs are reported pending with a message saying how to install it; with
 * `CI=1` (or `true`) or `TREERPC_REQUIRE_BROWSER=1` a missing or broken browser fails the suite.
 */
import { expect } from 'chai'
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Browser, chromium, type Page } from 'playwright-core'

const CHROMIUM = process.env.TREERPC_CHROMIUM ?? '/usr/bin/chromium'
/** The flags a closed-network machine needs (see the machine notes): no background connections at all. */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
const REQUIRED = ['1', 'true'].includes(process.env.CI ?? '') || process.env.TREERPC_REQUIRE_BROWSER === '1'
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const PAGES = join(ROOT, 'spec', 'browser')
const BUNDLE = join(ROOT, 'dist', 'browser', 'treerpc.js')
/** The pages' heartbeat (spec/browser/api.js): `{ interval: 100, timeout: 300 }`. A dead side must be noticed well within this. */
const LIVENESS_LIMIT_MS = 1500

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' }

/** Serves `/treerpc.js` (the bundle) and the files of spec/browser/, nothing else. */
function serve(): Server {
  return createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname
    const file = path === '/treerpc.js' ? BUNDLE : normalize(join(PAGES, path))
    if (!file.startsWith(PAGES + '/') && file !== BUNDLE) return void response.writeHead(404).end()
    let body: Buffer
    try {
      body = readFileSync(file)
    } catch {
      return void response.writeHead(404).end()
    }
    response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(body)
  })
}

/** The page side (spec/browser/page.js), as `page.evaluate` sees it. */
interface Harness {
  open(kind: Kind): Promise<number>
  close(id: number): Promise<void>
  run(id: number, scenario: string): Promise<any>
}
type Kind = 'worker' | 'iframe' | 'shared-worker'
/** The page's global scope. Functions given to `page.evaluate` run there, so they can close over nothing of this file. */
type InPage = { harness: Harness; harnessReady?: boolean }

describe('in Chromium: the bundle in a page, workers and an iframe', function () {
  let server: Server | undefined
  let browser: Browser | undefined
  let base = ''

  before(async function () {
    this.timeout(60_000)
    if (!existsSync(CHROMIUM)) {
      const message =
        `browser specs NOT RUN: no Chromium at ${CHROMIUM}. Install it (Debian/Ubuntu: ` +
        '`sudo apt-get install --no-install-recommends chromium`) or point TREERPC_CHROMIUM at a Chromium binary.'
      if (REQUIRED) throw new Error(`${message} They are required here (CI or TREERPC_REQUIRE_BROWSER=1).`)
      console.warn(`\n  ${message}\n`)
      // Again after mocha's summary, where it cannot scroll out of sight.
      process.once('exit', () => console.warn(`\n${message} (${this.test?.parent?.total() ?? 0} specs pending)\n`))
      this.skip()
    }
    if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run \`npm run build\` (it builds the bundle)`)
    server = serve()
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  })

  after(async function () {
    this.timeout(30_000)
    await browser?.close()
    if (server !== undefined) {
      server.closeAllConnections()
      server.close()
      await once(server, 'close')
    }
  })

  /** A fresh page with the harness loaded; page errors and console errors are collected. */
  async function newPage(): Promise<{ page: Page; problems: string[] }> {
    const page = await browser!.newPage()
    const problems: string[] = []
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`))
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console.error: ${message.text()} (${message.location().url})`)
    })
    await page.goto(`${base}/index.html`)
    await page.waitForFunction(() => (globalThis as unknown as InPage).harnessReady === true)
    return { page, problems }
  }

  const kinds: [Kind, string][] = [
    ['worker', 'a dedicated module worker (MessagePortTransport on the Worker and on self)'],
    ['iframe', 'an iframe, over a transferred MessagePort'],
    ['shared-worker', 'a SharedWorker, over its port'],
  ]
  for (const [kind, title] of kinds) {
    describe(`page ↔ ${title}`, function () {
      let page: Page
      let problems: string[]
      let id: number
      const run = (scenario: string): Promise<any> => page.evaluate(([id, scenario]) => (globalThis as unknown as InPage).harness.run(id, scenario), [id, scenario] as const)

      before(async function () {
        this.timeout(30_000)
        ;({ page, problems } = await newPage())
        id = await page.evaluate((kind) => (globalThis as unknown as InPage).harness.open(kind), kind)
      })

      after(async function () {
        if (page === undefined) return
        await page.evaluate((id) => (globalThis as unknown as InPage).harness.close(id), id).catch(() => {})
        await page.close()
      })

      afterEach(function () {
        expect(problems, 'errors in the page').to.deep.equal([])
      })

      it('connects to the far side, which loaded treerpc from the bundle URL', async () => {
        expect(await run('where')).to.equal(kind)
      })

      it('nests calls both ways: the far handler calls the page, whose handler calls the far side again', async () => {
        expect(await run('nested')).to.deep.equal({ twice: 40, plusOne: 41, where: kind, twiceCalls: 1 })
      })

      it('carries events both ways, in order', async () => {
        expect(await run('events')).to.deep.equal([
          { value: 1, where: kind },
          { value: 'two', where: kind },
          { value: { three: 3 }, where: kind },
        ])
      })

      it('times a call out with TimeoutError', async () => {
        const result = await run('timeout')
        expect(result).to.include({ name: 'TimeoutError', code: 'RPC_TIMEOUT', isTimeout: true })
        expect(result.ms).to.be.within(90, 2000)
      })

      it("cancels a call through an AbortSignal, and the handler's signal aborts", async () => {
        const result = await run('cancel')
        expect(result.caller).to.include({ name: 'CancelledError', code: 'RPC_CANCELLED', isCancelled: true })
        expect(result.state).to.equal('cancelled')
        expect(result.handler).to.include({ aborted: true })
      })

      it('carries a thrown error whole: name, message, code and custom fields', async () => {
        expect(await run('error')).to.deep.include({
          isRemote: true,
          name: 'QuotaError',
          message: 'over the quota',
          code: 'E_QUOTA',
          limit: 10,
          whenIsDate: true,
          when: 0,
        })
      })

      it('moves an ArrayBuffer with a transfer list (detached at the sender) and back', async () => {
        expect(await run('transfer')).to.deep.equal({ senderByteLength: 0, isArrayBuffer: true, back: [2, 4, 6, 200], backIsArrayBuffer: true })
      })

      it('passes callbacks, ref() objects and streams by reference', async () => {
        expect(await run('references')).to.deep.equal({ ran: 5, seen: [1, 2, 3, 4, 5], total: 5, count: 10_000, sum: 49_995_000, released: 'RPC_RELEASED' })
      })

      if (kind === 'worker' || kind === 'iframe') {
        const what = kind === 'worker' ? 'a worker terminated' : 'an iframe removed'
        it(`rejects a pending call with ChannelClosedError when ${what} mid-call, within the heartbeat timeout`, async function () {
          const doomed = await page.evaluate((kind) => (globalThis as unknown as InPage).harness.open(kind), kind)
          const result = await page.evaluate((doomed) => (globalThis as unknown as InPage).harness.run(doomed, 'kill-mid-call'), doomed)
          expect(result).to.include({ name: 'ChannelClosedError', code: 'RPC_CHANNEL_CLOSED', isChannelClosed: true })
          expect(result.ms).to.be.below(LIVENESS_LIMIT_MS)
        })
      }
    })
  }
})
