// Schema-checks Kubernetes objects without a cluster: reads YAML documents
// (kubectl kustomize's output) on stdin, validates each with the schemas of
// kubernetes-models and @kubernetes-models/prometheus-operator, prints one
// "apiVersion kind name" line per valid object and every error, and exits 1
// when an object is invalid or of a kind it has no schema for.
//
// The schemas let unknown fields through (a misspelt readinessProbe would
// pass), where the API server with kubectl's default --validate=strict
// rejects them. So the objects are validated through proxies that record
// which keys the validator looks up: a key it never looked up in an object
// whose keys it never listed (maps such as labels are listed) is not in the
// schema, and is reported.
//
//   kubectl kustomize DIR | NODE_PATH=/var/cache/pgpulse/npm/node_modules \
//       node tests/packaging/check-kubernetes.js
'use strict';

const fs = require('fs');
const YAML = require('yaml');

// The module holding the classes of an apiVersion.
function modelModule(apiVersion) {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === 'monitoring.coreos.com')
    return `@kubernetes-models/prometheus-operator/${group}/${version}`;
  return group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`;
}

// A proxy of 'obj' (and, as they are reached, of the objects in it) that
// records in 'records' each object's keys looked up and whether its keys
// were listed.
function track(obj, path, records) {
  if (obj === null || typeof obj !== 'object') return obj;
  const rec = { path, obj, read: new Set(), listed: false };
  if (!Array.isArray(obj)) records.push(rec);
  const children = new Map();
  return new Proxy(obj, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver);
      if (typeof key !== 'string') return v;
      rec.read.add(key);
      if (v === null || typeof v !== 'object') return v;
      if (!children.has(key)) children.set(key, track(v, `${path}/${key}`, records));
      return children.get(key);
    },
    has(target, key) {
      if (typeof key === 'string') rec.read.add(key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      rec.listed = true;
      return Reflect.ownKeys(target);
    },
  });
}

function unknownFields(records) {
  const out = [];
  for (const r of records) {
    if (r.listed) continue;
    for (const k of Object.keys(r.obj))
      if (!r.read.has(k)) out.push(`${r.path || ''}/${k}`);
  }
  return out;
}

function check(obj) {
  let mod;
  try {
    mod = require(modelModule(obj.apiVersion));
  } catch (e) {
    return `no schema for apiVersion ${obj.apiVersion}`;
  }
  const Model = mod[obj.kind];
  if (!Model) return `no schema for ${obj.apiVersion} ${obj.kind}`;
  const records = [];
  try {
    Model.prototype.validate.call(track(obj, '', records));
  } catch (e) {
    return e.message;
  }
  const unknown = unknownFields(records);
  return unknown.length ? `unknown field(s) ${unknown.join(', ')}` : null;
}

const docs = YAML.parseAllDocuments(fs.readFileSync(0, 'utf8'));
let bad = 0, n = 0;
for (const doc of docs) {
  if (doc.errors.length) {
    console.log(`yaml error: ${doc.errors[0].message}`);
    bad++;
    continue;
  }
  const obj = doc.toJS();
  if (obj === null) continue;
  n++;
  const name = `${obj.apiVersion} ${obj.kind} ${obj.metadata && obj.metadata.name}`;
  const err = check(obj);
  if (err) {
    console.log(`invalid: ${name}: ${err}`);
    bad++;
  } else {
    console.log(name);
  }
}
if (n === 0) {
  console.log('no objects');
  bad++;
}
process.exit(bad ? 1 : 0);
