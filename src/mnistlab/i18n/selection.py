"""The selection rules' words (which images got labels), pt and en, merged into the one catalog."""

MESSAGES = {
    "sel_chosen": ("{label}: rótulos escolhidos por {rule}: {total} imagens, por classe {counts}",
                   "{label}: labels chosen by {rule}: {total} images, per class {counts}"),
    "sel_missing": ("; nenhuma da classe {classes}", "; none of class {classes}"),
    "sel_budget": ("{n} por classe (rótulos escolhidos por {rule}: {total} no total)",
                   "{n} per class (labels chosen by {rule}: {total} in all)"),
}
