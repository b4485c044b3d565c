import { expect } from 'chai'
import sinon from 'sinon'
import { Deadlines } from '../lib/deadlines.js'

describe('deadlines (one timer for many calls)', () => {
  let clock: sinon.SinonFakeTimers
  beforeEach(() => {
    clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  })
  afterEach(() => clock.restore())

  // Entries are ids; these name them for readable assertions.
  const names = ['a', 'b', 'c', 'd']
  const id = (name: string): number => names.indexOf(name) + 1
  const named = (expired: string[]) => (n: number) => expired.push(n === 100 ? 'long' : n === 101 ? 'short' : names[n - 1]!)

  it('expires items in deadline order across different timeouts, with one timer at a time', () => {
    const expired: string[] = []
    const deadlines = new Deadlines(named(expired))
    deadlines.add(id('a'), 300)
    deadlines.add(id('b'), 100)
    clock.tick(50)
    deadlines.add(id('c'), 100)
    deadlines.add(id('d'), 300)
    expect(clock.countTimers()).to.equal(1)
    clock.tick(50) // t=100
    expect(expired).to.deep.equal(['b'])
    clock.tick(50) // t=150
    expect(expired).to.deep.equal(['b', 'c'])
    clock.tick(150) // t=300
    expect(expired).to.deep.equal(['b', 'c', 'a'])
    clock.tick(50) // t=350
    expect(expired).to.deep.equal(['b', 'c', 'a', 'd'])
    expect(deadlines.size).to.equal(0)
    expect(clock.countTimers()).to.equal(0)
  })

  it('never expires a deleted item, and clears the timer when the last one goes', () => {
    const expired: string[] = []
    const deadlines = new Deadlines(named(expired))
    deadlines.add(id('a'), 100)
    deadlines.add(id('b'), 100)
    deadlines.delete(id('a'), 100)
    deadlines.delete(id('a'), 100)
    expect(deadlines.size).to.equal(1)
    clock.tick(100)
    expect(expired).to.deep.equal(['b'])
    deadlines.add(id('a'), 100)
    deadlines.delete(id('a'), 100)
    expect(clock.countTimers()).to.equal(0)
  })

  it('re-arms for an earlier deadline added later', () => {
    const expired: string[] = []
    const deadlines = new Deadlines(named(expired))
    deadlines.add(100, 10_000)
    deadlines.add(101, 10)
    clock.tick(10)
    expect(expired).to.deep.equal(['short'])
    expect(clock.countTimers()).to.equal(1)
  })
})
