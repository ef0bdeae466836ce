#!/usr/bin/env node
// Runs the cases of localcloud/asl/testdata/key_order_cases.json through an
// independent ASL engine, the npm package aws-local-stepfunctions 3.0.0, and
// prints each case's execution output text: the expected strings of
// TestKeyOrderMatchesReferenceEngine (localcloud/asl/keyorder_test.go).
//
// Regenerate where npm is reachable (outside the repo; nothing is installed
// into it):
//   npm install --prefix /tmp/alsf aws-local-stepfunctions@3.0.0
//   NODE_PATH=/tmp/alsf/node_modules node scripts/asl-key-order-reference.cjs
//
// A Task state returns the case's "taskResult" text, or fails with its
// "taskError" (error name and cause). JavaScript objects
// list integer-like keys ("1", "10") first whatever their insertion order,
// so the cases use no such keys: for them this reference says nothing.
'use strict';
// The package asks for Node 22; on Node 20 it needs these two.
if (!globalThis.crypto) globalThis.crypto = require('node:crypto').webcrypto;
if (!Promise.withResolvers) {
  Promise.withResolvers = function withResolvers() {
    let resolve, reject;
    const promise = new this((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  };
}
const fs = require('node:fs');
const path = require('node:path');
const { StateMachine } = require('aws-local-stepfunctions');

const casesFile = path.join(__dirname, '..', 'localcloud', 'asl', 'testdata', 'key_order_cases.json');
const cases = JSON.parse(fs.readFileSync(casesFile, 'utf8'));

function taskStates(def, out = []) {
  for (const [name, st] of Object.entries(def.States || {})) {
    if (st.Type === 'Task') out.push(name);
    for (const b of st.Branches || []) taskStates(b, out);
    if (st.ItemProcessor) taskStates(st.ItemProcessor, out);
    if (st.Iterator) taskStates(st.Iterator, out);
  }
  return out;
}

(async () => {
  for (const c of cases) {
    const handlers = {};
    for (const name of taskStates(c.definition)) {
      handlers[name] = async () => {
        if (c.taskError) {
          const err = new Error(c.taskError.cause);
          err.name = c.taskError.error;
          throw err;
        }
        return JSON.parse(c.taskResult);
      };
    }
    const sm = new StateMachine(c.definition);
    let text;
    try {
      const out = await sm.run(c.input, { overrides: { taskResourceLocalHandlers: handlers } }).result;
      text = JSON.stringify(out);
    } catch (err) {
      text = 'ERROR ' + (err && err.name) + ': ' + (err && err.message);
    }
    console.log(JSON.stringify(c.name) + ': ' + JSON.stringify(text) + ',');
  }
})();
