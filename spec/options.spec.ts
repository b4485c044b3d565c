/**
 * Options and arguments are checked at the door: a wrong value throws RpcError RPC_INVALID_ARGUMENT
 * naming it, what it should be and what it is (its type and, for a primitive, its value), before
 * anything is started. One table per entry point: createPeer (over a real memory pair), spawnChild,
 * spawnWorker and connectParent (whose checks come before it looks for a parent).
 */
import { expect } from 'chai'
import { readdirSync } from 'node:fs'
import {
  connectParent,
  createMemoryPair,
  createPeer,
  type Handle,
  RpcError,
  spawnChild,
  type SpawnChildOptions,
  spawnWorker,
  type SpawnWorkerOptions,
} from '../lib/index.js'

const ECHO = new URL('./fixtures/echo.js', import.meta.url)

/** A refused value: the option (or argument) named in the message, the value, and how the message shows it. */
interface Case {
  name: string
  value: unknown
  shown: string
}

const bad = (name: string, value: unknown, shown: string): Case => ({ name, value, shown })

/** Every PeerOptions field: createPeer, spawnChild, spawnWorker and connectParent all check these. */
const PEER_CASES: Case[] = [
  bad('timeout', '100', 'a string "100"'),
  bad('timeout', -1, 'a number -1'),
  bad('timeout', NaN, 'a number NaN'),
  bad('timeout', null, 'null'),
  bad('concurrency', 0, 'a number 0'),
  bad('concurrency', 1.5, 'a number 1.5'),
  bad('concurrency', '4', 'a string "4"'),
  bad('maxQueue', -1, 'a number -1'),
  bad('maxQueue', '10', 'a string "10"'),
  bad('maxPending', 0, 'a number 0'),
  bad('maxPending', 'lots', 'a string "lots"'),
  bad('handshake', 'false', 'a string "false"'),
  bad('handshake', 0, 'a number 0'),
  bad('connectTimeout', -5, 'a number -5'),
  bad('connectTimeout', '1s', 'a string "1s"'),
  bad('expose', 'api', 'a string "api"'),
  bad('expose', null, 'null'),
  bad('expose', [() => 1], 'an array'),
]

/** Options the spawn functions read themselves (closeTimeout: 'x', -1 or NaN used to kill after about 1 ms). */
const HANDLE_CASES: Case[] = [
  bad('closeTimeout', 'x', 'a string "x"'),
  bad('closeTimeout', -1, 'a number -1'),
  bad('closeTimeout', NaN, 'a number NaN'),
]

/** Options only spawnChild reads. */
const CHILD_CASES: Case[] = [
  bad('args', '--verbose', 'a string "--verbose"'),
  bad('args[1]', ['--port', 8080], 'a number 8080'),
  bad('serialization', 'v8', 'a string "v8"'),
  bad('serialization', true, 'a boolean true'),
  bad('silent', 'yes', 'a string "yes"'),
]

/** What is not a path or a file URL. */
const MODULE_PATHS: Case[] = [
  bad('modulePath', 42, 'a number 42'),
  bad('modulePath', null, 'null'),
  bad('modulePath', undefined, 'undefined'),
  bad('modulePath', '', 'a string ""'),
  bad('modulePath', { href: ECHO.href }, 'an object'),
  bad('modulePath', new URL('data:text/javascript,1'), 'a URL "data:text/javascript,1"'),
  bad('modulePath', new URL('https://example.com/child.js'), 'a URL "https://example.com/child.js"'),
  bad('modulePath', 'file://elsewhere/child.js', 'a string "file://elsewhere/child.js"'),
]

/** Options bags that are not objects. */
const BAGS: Case[] = [bad('options', 'fast', 'a string "fast"'), bad('options', null, 'null'), bad('options', [1], 'an array')]

/** `options.args[1]` is set as `args: [...]`: the option's own key is the name before any index. */
const key = (name: string): string => name.replace(/\[\d+\]$/, '')
const optionName = (name: string): string => (name === 'modulePath' || name === 'options' || name === 'transport' ? name : `options.${name}`)

/** Runs `start`, which must throw: returns what it threw. Anything it started instead is ended after the test. */
function refusal(start: () => unknown, started: Handle<unknown>[]): RpcError {
  let result: unknown
  try {
    result = start()
  } catch (error) {
    expect(error).to.be.instanceOf(RpcError)
    return error as RpcError
  }
  if (typeof (result as Handle<unknown> | undefined)?.kill === 'function') started.push(result as Handle<unknown>)
  expect.fail('expected it to throw RpcError RPC_INVALID_ARGUMENT, and it returned')
}

function expectNamed(error: RpcError, { name, shown }: Case): void {
  expect(error.code).to.equal('RPC_INVALID_ARGUMENT')
  expect(error.message).to.contain(`${optionName(name)} must be `)
  expect(error.message).to.contain(`, got ${shown}`)
}

/** Processes this one has forked and not yet reaped. */
const processes = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'ProcessWrap').length

/** Threads of this process (Linux); a Worker's thread starts in its constructor. Undefined elsewhere. */
function threads(): number | undefined {
  try {
    return readdirSync('/proc/self/task').length
  } catch {
    return undefined
  }
}

describe('options and arguments are checked at the door', () => {
  const started: Handle<unknown>[] = []

  afterEach(async () => {
    await Promise.all(started.splice(0).map((handle) => handle.kill()))
  })

  describe('createPeer (over a memory pair)', () => {
    for (const c of [...PEER_CASES, ...BAGS]) {
      it(`refuses ${optionName(c.name)}: ${c.shown}`, () => {
        const [a, b] = createMemoryPair()
        try {
          const options = c.name === 'options' ? c.value : { [c.name]: c.value }
          expectNamed(refusal(() => createPeer(a, options as never), started), c)
        } finally {
          a.close()
          b.close()
        }
      })
    }

    for (const [title, call, shown] of [
      ['createPeer()', () => createPeer(undefined as never), 'undefined'],
      ['createPeer({})', () => createPeer({} as never), 'an object'],
    ] as const) {
      it(`refuses a missing transport: ${title}`, () => {
        const error = refusal(call, started)
        expectNamed(error, bad('transport', undefined, shown))
        expect(error.message).to.contain('send, onMessage, onClose and close')
      })
    }

    it('accepts Infinity where it means "no limit" and 0 where it means "none"', async () => {
      const [a, b] = createMemoryPair()
      const left = createPeer(a, { timeout: Infinity, concurrency: Infinity, maxQueue: Infinity, maxPending: Infinity, connectTimeout: Infinity })
      const right = createPeer(b, { timeout: 0, maxQueue: 0, connectTimeout: 0, expose: { ping: () => 'pong' } })
      expect(await left.remote.ping()).to.equal('pong')
      left.close()
      right.close()
    })
  })

  describe('spawnChild and spawnWorker', () => {
    const kinds = [
      { kind: 'spawnChild', start: (path: unknown, options: unknown) => spawnChild(path as URL, options as SpawnChildOptions), cases: [...PEER_CASES, ...HANDLE_CASES, ...CHILD_CASES] },
      { kind: 'spawnWorker', start: (path: unknown, options: unknown) => spawnWorker(path as URL, options as SpawnWorkerOptions), cases: [...PEER_CASES, ...HANDLE_CASES] },
    ]
    for (const { kind, start, cases } of kinds) {
      describe(kind, () => {
        /** Runs one refused call and checks that it forked no process and started no thread. */
        function refuse(path: unknown, options: unknown, c: Case): void {
          const [processesBefore, threadsBefore] = [processes(), threads()]
          expectNamed(refusal(() => start(path, options), started), c)
          expect(processes(), 'processes forked').to.equal(processesBefore)
          expect(threads(), 'threads started').to.equal(threadsBefore)
        }

        for (const c of cases) {
          it(`refuses ${optionName(c.name)}: ${c.shown}, starting nothing`, () => {
            refuse(ECHO, { [key(c.name)]: c.value }, c)
          })
        }
        for (const c of BAGS) {
          it(`refuses options: ${c.shown}, starting nothing`, () => refuse(ECHO, c.value, c))
        }
        for (const c of MODULE_PATHS) {
          it(`refuses modulePath: ${c.shown}, starting nothing`, () => refuse(c.value, {}, c))
        }
      })
    }

    it('starts no worker for any refused value: the next worker gets the very next thread id', async () => {
      const first = spawnWorker(ECHO)
      const firstId = first.worker.threadId
      await first.kill()
      for (const c of [...PEER_CASES, ...HANDLE_CASES]) refusal(() => spawnWorker(ECHO, { [c.name]: c.value } as SpawnWorkerOptions), started)
      for (const c of MODULE_PATHS) refusal(() => spawnWorker(c.value as URL), started)
      const next = spawnWorker(ECHO)
      started.push(next)
      expect(next.worker.threadId).to.equal(firstId + 1)
    })

    it('accepts closeTimeout: Infinity (never kill) and connectTimeout: Infinity (wait as long as it takes)', async () => {
      const child = spawnChild(ECHO, { closeTimeout: Infinity, connectTimeout: Infinity })
      started.push(child)
      expect(await child.remote.echo('hi')).to.equal('hi')
      expect(await child.close()).to.deep.equal({ code: 0, signal: null })
    })
  })

  describe('connectParent (checked before it looks for a parent)', () => {
    for (const c of [...PEER_CASES, bad('exitOnDisconnect', 'no', 'a string "no"'), ...BAGS]) {
      it(`refuses ${optionName(c.name)}: ${c.shown}`, () => {
        const options = c.name === 'options' ? c.value : { [c.name]: c.value }
        expectNamed(refusal(() => connectParent(options as never), started), c)
      })
    }
  })
})
