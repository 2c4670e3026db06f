"""The launch form: its choices come from the provider account (``Driver.launch_options``).

The form only offers and collects; it does not judge sizes or names. Its fields become the
driver's ``ProvisionSpec`` through ``admission.build_spec`` (the API serializer's path too), so a
bad size is reported by ``ProvisionSpec.parse`` in the same words wherever it comes from.
"""

from __future__ import annotations

import shlex
import uuid

from django import forms

from providers.base import Kind, LaunchOptions

KIND_LABELS = {Kind.VM: "Virtual machine", Kind.CONTAINER: "Container", Kind.VOLUME: "Volume"}
#: the fields that make the spec, in the order the form shows them
SPEC_FIELDS = ("kind", "name", "image", "flavor", "vcpus", "ram_mb", "disk_gb", "network", "command")


class LaunchForm(forms.Form):
    account = forms.ChoiceField(label="Provider account")
    kind = forms.ChoiceField(label="Kind")
    name = forms.CharField(label="Name", max_length=255, required=False)
    image = forms.CharField(label="Image", required=False, max_length=255)
    flavor = forms.ChoiceField(label="Flavor", required=False)
    vcpus = forms.CharField(label="vCPUs", required=False, widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    ram_mb = forms.CharField(label="RAM (MiB)", required=False, widget=forms.TextInput(attrs={"inputmode": "numeric"}))
    disk_gb = forms.CharField(label="Disk (GiB)", required=False,
                              widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    network = forms.ChoiceField(label="Network", required=False)
    command = forms.CharField(label="Command", required=False, max_length=1000,
                              help_text="what the container runs, as in a shell (empty: the image's own)")
    token = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, accounts, options: LaunchOptions | None, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.options = options
        if kind != Kind.CONTAINER:
            del self.fields["command"]
        self.fields["account"].choices = [(a.name, f"{a.name} ({a.driver_class.label or a.kind})") for a in accounts]
        kinds = options.kinds if options is not None else tuple(KIND_LABELS)
        self.fields["kind"].choices = [(k, KIND_LABELS.get(k, k)) for k in kinds]
        if options is None:  # the platform could not be asked: every value is typed
            del self.fields["flavor"]
            self.fields["network"] = forms.CharField(label="Network", required=False, max_length=255)
            return
        images = options.images_for(kind)
        if images:
            blank = [] if options.image_required else [("", "none")]
            self.fields["image"] = forms.ChoiceField(label="Image", required=False,
                                                     choices=blank + [(c.value, c.label or c.value) for c in images])
        elif options.image_required:
            self.fields["image"].help_text = "an image reference the provider can use"
        if options.flavors and kind == Kind.VM:
            self.fields["flavor"].choices = [(f.value, f.label) for f in options.flavors]
            for name in ("vcpus", "ram_mb", "disk_gb"):
                del self.fields[name]  # the flavor says the size
        else:
            del self.fields["flavor"]
        networks = options.networks_for(kind)
        if networks:
            self.fields["network"].choices = [("", "the provider's default")] + [
                (c.value, c.label or c.value) for c in networks]
        else:
            del self.fields["network"]
        for name, field in self.fields.items():  # an unbound form starts on a choice it offers
            if isinstance(field, forms.ChoiceField) and field.choices:
                values = [str(value) for value, _ in field.choices]
                if str(self.initial.get(name) or "") not in values:
                    self.initial[name] = values[0]

    @staticmethod
    def new_token() -> str:
        """A fresh idempotency key: the same form sent twice makes one request."""
        return uuid.uuid4().hex

    def clean_command(self):
        try:
            return shlex.split(self.cleaned_data.get("command") or "")
        except ValueError as exc:  # an unclosed quote
            raise forms.ValidationError(f"cannot be split into words: {exc}") from None

    def spec_fields(self) -> dict:
        """The request's fields as typed (cleaned choices, raw numbers, the command as words), for
        ``build_spec``."""
        data = self.cleaned_data if self.is_bound else {k: self.initial.get(k) for k in self.fields}
        fields = {k: data.get(k) for k in SPEC_FIELDS if k in self.fields and data.get(k) not in (None, "", [])}
        if isinstance(fields.get("command"), str):
            fields["command"] = shlex.split(fields["command"])
        return fields

    def spec_field_names(self) -> list[str]:
        return [k for k in SPEC_FIELDS if k in self.fields]
