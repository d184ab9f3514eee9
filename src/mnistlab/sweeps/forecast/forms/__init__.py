"""The learning-curve forms, one file each; form.forms() imports every module here."""
