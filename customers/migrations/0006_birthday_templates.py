from django.db import migrations


def load(apps, schema_editor):
    from customers.default_templates import default_templates_load

    default_templates_load(apps.get_model("customers", "MessageTemplate"))


class Migration(migrations.Migration):
    dependencies = [("customers", "0005_message_purposes")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
