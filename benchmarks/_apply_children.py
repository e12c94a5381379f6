"""What the processes of the apply benchmarks run (python -c), apart from `graphdiff apply`.

None of them imports graphdiff: TensorFlow's ways read the plan's restore entries as JSON.
The new and old graphs are built as graphdiff builds them: the case's .py run in a fresh
tf.Graph with eager execution off, then its build_graph().

    SETUP                 build the old graph, initialize it, Saver().save the old checkpoint
    COPY                  shutil.copy of a checkpoint's .index, .data-* and .meta
    BUILD                 import TensorFlow and build the new graph, nothing else
    INIT_FROM_CHECKPOINT  build, init_from_checkpoint, global_variables_initializer, save
    SAVER_RESTORE         build, Saver(var_list).restore, the others' initializers, save
    CHECK                 compare the written checkpoints with the source and the plan
"""

PRELUDE = '''
import json, runpy, sys
from pathlib import Path
import tensorflow as tf
v1 = tf.compat.v1


def build(graph_file):
    """The graph `graph_file` builds, the way graphdiff builds it: a fresh graph, eager off."""
    v1.disable_eager_execution()
    sys.path.insert(0, str(Path(graph_file).resolve().parent))
    graph = tf.Graph()
    with graph.as_default():
        namespace = runpy.run_path(graph_file, run_name="__bench__")
        if callable(namespace.get("build_graph")):
            namespace["build_graph"]()
    return graph


def restore_entries(plan_path):
    plan = json.loads(Path(plan_path).read_text())
    restored = [e for e in plan["variables"] if e["action"] == "restore"]
    return plan["provenance"]["checkpoint_prefix"], restored, plan["variables"]
'''

SETUP = (
    PRELUDE
    + """
old_graph, prefix = sys.argv[1:3]
graph = build(old_graph)
with graph.as_default():
    variables = v1.global_variables()
    saver = v1.train.Saver()
    with v1.Session() as session:
        session.run(v1.global_variables_initializer())
        saver.save(session, prefix)
print(json.dumps({"variables": len(variables), "ops": len(graph.get_operations())}))
"""
)

COPY = """
import glob, shutil, sys
source, target = sys.argv[1:3]
data = sorted(glob.glob(glob.escape(source) + ".data-*"))
for path in [source + ".index", *data, source + ".meta"]:
    shutil.copy(path, target + path[len(source):])
"""

BUILD = PRELUDE + "\nbuild(sys.argv[1])\n"

INIT_FROM_CHECKPOINT = (
    PRELUDE
    + """
new_graph, plan_path, out = sys.argv[1:4]
graph = build(new_graph)
ckpt, restored, _ = restore_entries(plan_path)
with graph.as_default():
    # a partitioned variable by its full name: init_from_checkpoint collects its parts
    v1.train.init_from_checkpoint(ckpt, {e["source"]: e["name"] for e in restored})
    initialize = v1.global_variables_initializer()
    saver = v1.train.Saver()
    with v1.Session() as session:
        session.run(initialize)
        saver.save(session, out)
"""
)

SAVER_RESTORE = (
    PRELUDE
    + """
new_graph, plan_path, out = sys.argv[1:4]
graph = build(new_graph)
ckpt, restored, _ = restore_entries(plan_path)
with graph.as_default():
    variables = {v.op.name: v for v in v1.global_variables()}
    var_list, done = {}, set()
    for e in restored:
        parts = [p["name"] for p in e.get("partitions") or ()]
        var_list[e["source"]] = [variables[p] for p in parts] if parts else variables[e["name"]]
        done.update(parts or [e["name"]])
    restorer = v1.train.Saver(var_list=var_list)
    initialize_rest = v1.variables_initializer([v for n, v in variables.items() if n not in done])
    saver = v1.train.Saver()
    with v1.Session() as session:
        restorer.restore(session, ckpt)
        session.run(initialize_rest)
        saver.save(session, out)
"""
)

CHECK = (
    PRELUDE
    + """
new_graph, plan_path, *labelled = sys.argv[1:]
ckpt, restored, entries = restore_entries(plan_path)
source = tf.train.load_checkpoint(ckpt)
outputs = dict(item.split("=", 1) for item in labelled)
readers = {label: tf.train.load_checkpoint(prefix) for label, prefix in outputs.items()}
planned = {e["name"] for e in entries}
faults = []
for label, reader in readers.items():
    shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
    if set(shapes) != planned:
        faults.append(f"{label}: keys {sorted(set(shapes) ^ planned)[:5]} differ from the plan")
    for e in entries:
        name = e["name"]
        if name in shapes and (shapes[name], dtypes[name].name) != (e["shape"], e["dtype"]):
            faults.append(f"{label}: {name} is {dtypes[name].name}{shapes[name]}")
for e in restored:
    expected = source.get_tensor(e["source"])
    for label, reader in readers.items():
        if reader.has_tensor(e["name"]) and not (reader.get_tensor(e["name"]) == expected).all():
            faults.append(f"{label}: {e['name']} differs from {e['source']} in the source")
    del expected
graph = build(new_graph)
with graph.as_default(), v1.Session() as session:
    v1.train.Saver().restore(session, outputs["apply"])
for fault in faults[:20]:
    print("FAULT", fault)
if faults:
    sys.exit(1)
print(
    f"check: {len(restored)} restored tensors identical to the source in {', '.join(readers)}; "
    f"{len(entries)} variables with their planned dtype and shape in each; "
    "Saver().restore of apply's checkpoint in the new graph: ok"
)
"""
)
