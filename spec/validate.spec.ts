import { expect } from 'chai'
import { RemoteError, RpcError } from '../lib/index.js'
import { pair, rejection, tick } from './helpers.js'

describe('argument validators', () => {
  it('refuses arguments a validator rejects with RPC_INVALID_PARAMS, without running the handler', async () => {
    const { left, right } = pair()
    let runs = 0
    right.handle('math.add', (a: number, b: number) => (runs++, a + b), {
      validate: (args) => args.length === 2 && args.every((x) => typeof x === 'number'),
    })
    expect(await left.remote.math.add(1, 2)).to.equal(3)
    const error = await rejection(left.remote.math.add('1', 2))
    expect(error).to.be.instanceOf(RemoteError)
    expect(error.code).to.equal('RPC_INVALID_PARAMS')
    expect(runs).to.equal(1)
  })

  it('carries the message a validator throws', async () => {
    const { left, right } = pair()
    right.handle('user.rename', (name: string) => name, {
      validate: ([name]) => {
        if (typeof name !== 'string' || name.length > 8) throw new Error('name must be a string of at most 8 characters')
      },
    })
    const error = await rejection(left.remote.user.rename('a very long name'))
    expect(error.code).to.equal('RPC_INVALID_PARAMS')
    expect(error.message).to.contain('at most 8 characters')
  })

  it('drops a notification a validator rejects and reports it on the receiver', async () => {
    const { left, right } = pair()
    let runs = 0
    right.handle('log', () => runs++, { validate: (args) => typeof args[0] === 'string' })
    const errors: unknown[] = []
    right.on('error', (error) => errors.push(error))
    await left.ready
    left.notify('log', 42)
    left.notify('log', 'ok')
    for (let i = 0; i < 5 && runs === 0; i++) await tick()
    expect(runs).to.equal(1)
    expect(errors).to.have.length(1)
    expect((errors[0] as RpcError).code).to.equal('RPC_INVALID_PARAMS')
  })

  it('refuses a validator that is not a function', () => {
    const { right } = pair()
    expect(() => right.handle('x', () => 1, { validate: 42 as never })).to.throw(RpcError, /validate/)
  })
})
