"""The selection rules' words (which images got labels), pt and en, merged into the one catalog."""

MESSAGES = {
    "sel_chosen": ("{label}: rótulos escolhidos por {rule}: {total} imagens, por classe {counts}",
                   "{label}: labels chosen by {rule}: {total} images, per class {counts}"),
    "sel_missing": ("; nenhuma da classe {classes}", "; none of class {classes}"),
    "sel_finding": ("{label} ({variant}), {spc} por classe, rótulos escolhidos por {rule}: classes cobertas por "
                    "semente {per_seed}; pior semente {worst} com {acc}% no teste.",
                    "{label} ({variant}), {spc} per class, labels chosen by {rule}: classes covered per seed "
                    "{per_seed}; worst seed {worst} at {acc}% test accuracy."),
}
