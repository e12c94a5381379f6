"""The reviewer's view of a plan: the picture (render) and the text forms (show, summary).

`scopetree` turns a plan into two trees of scopes; `boxes`, `sides` and `focus` decide what is
drawn; `diffview` is the data both the picture and `show` read; `flow` adds data-flow edges from
the graphs the plan names; `render` and `render_labels` draw with graphviz; `show` and `summary`
print text. None of them re-runs matching: they read the plan.
"""
